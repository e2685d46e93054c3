import { hostname, userInfo } from 'node:os';

/** `meta/<runId>.json`: one record per physical execution, for people and `memocall summarize`. */
export interface RunMetadata {
  runId: string;
  memoUri: string;
  functionId: string;
  pipelineId: string;
  writerId: string;
  /** `internal-error`: memocall failed (bad invocation, module not found, storage): nothing else was written. */
  outcome: 'result' | 'error' | 'lost-race' | 'lease-lost' | 'internal-error';
  invokedAt: string;
  invokedBy: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  host: string;
  pid: number;
  node: string;
  memocallVersion: string;
  /** `MEMOCALL_CODE_VERSION` when set (an image digest, a commit): code is not part of the key. */
  codeVersion?: string;
  detail?: string;
  /**
   * The memoized functions the run called, in the order first seen; `declared: false` for one
   * missing from the function's `calls` (warned as MEMOCALL_UNDECLARED_CALL).
   */
  nestedCalls?: Array<{ functionId: string; declared: boolean }>;
  /** Warnings the run raised about its outcome (e.g. MEMOCALL_DEST_NOT_RETURNED), one per line of `detail` too. */
  warnings?: string[];
}

let invoker: string | undefined;

/** `user@host` of this process, computed once. */
export function invokedBy(): string {
  if (invoker === undefined) {
    let user = process.env.USER ?? 'unknown';
    try {
      user = userInfo().username;
    } catch {
      // Containers may have no passwd entry for the uid.
    }
    invoker = `${user}@${hostname()}`;
  }
  return invoker;
}

export const MEMOCALL_VERSION = '0.1.0';

export function encodeRunMetadata(meta: RunMetadata): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(meta, null, 2)}\n`);
}
