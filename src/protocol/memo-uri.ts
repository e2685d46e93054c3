import { KEY_FORMAT_VERSION } from '../core/key-format.js';

/** The parts a memo URI is made of, kept structured so nothing ever has to parse one back. */
export interface MemoUriParts {
  blobRoot: string;
  pipelineId: string;
  functionId: string;
  logicKey: string | undefined;
  callsSegment: string | undefined;
  argsKey: string;
}

/**
 * Everything of the memo URI `<blobRoot>/memocall-v1/<pipelineId>/<functionId>[@<logicKey>]/[calls-<hash>/]<argsKey>`
 * but the arguments: one prefix per function version.
 */
export function functionMemospace(parts: Omit<MemoUriParts, 'argsKey'>): string {
  const fn = parts.logicKey ? `${parts.functionId}@${parts.logicKey}` : parts.functionId;
  const calls = parts.callsSegment ? `/${parts.callsSegment}` : '';
  return `${trimSlash(parts.blobRoot)}/${KEY_FORMAT_VERSION}/${parts.pipelineId}/${fn}${calls}`;
}

export function trimSlash(uri: string): string {
  return uri.endsWith('/') ? uri.slice(0, -1) : uri;
}

/** Names of the files kept under a memo URI. */
export const memoFile = {
  invocation: (memoUri: string) => `${memoUri}/invocation`,
  result: (memoUri: string) => `${memoUri}/result`,
  error: (memoUri: string) => `${memoUri}/error`,
  lease: (memoUri: string) => `${memoUri}/lease`,
  meta: (memoUri: string, runId: string) => `${memoUri}/meta/${runId}.json`,
  lostRace: (memoUri: string, runId: string) => `${memoUri}/lost-race/${runId}.json`,
} as const;
