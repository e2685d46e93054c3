import { ConfigurationError } from '../core/configuration-error.js';
import { KEY_FORMAT_VERSION } from '../core/key-format.js';
import { MemocallError } from '../core/memocall-error.js';
import { parseReadableKey } from '../core/readable-key.js';
import { redactUri } from '../core/redact-uri.js';

/**
 * The memo URI grammar (docs/keys.md, "Memo URIs"): every part is exactly one path segment, in a
 * fixed order, so no two tuples of parts share a URI and a URI parses back to its parts:
 *
 *   <blobRoot>/memocall-v2/<pipeline>/<function>[@<logicKey>]/[code-<hash>/][calls-<hash>/]<argsKey>
 *
 * Ids (pipeline ids, function ids, logic keys) are `/`-separated parts of `[A-Za-z0-9._+=,-]`;
 * in the URI each `/` is written `~`. `@` (the logic key's separator) and `~` are not id
 * characters, so the escaping is one-to-one and `@` splits the function segment unambiguously.
 */
export interface MemoUriParts {
  blobRoot: string;
  pipelineId: string;
  functionId: string;
  logicKey: string | undefined;
  /** `code-<hash>`: reserved for code-aware keys (issue 14); absent today. */
  codeSegment?: string | undefined;
  callsSegment: string | undefined;
  argsKey: string;
}

/** What stands for `/` of an id inside its one URI segment. Not an id character. */
export const ID_SLASH_IN_URI = '~';
/** Separates the function id from its logic key in the function segment. Not an id character. */
export const LOGIC_KEY_SEPARATOR = '@';

const ID_PART = /^[A-Za-z0-9._+=,-]+$/;
const CODE_SEGMENT = /^code-[A-Za-z0-9_-]+$/;
const CALLS_SEGMENT = /^calls-[A-Za-z0-9_-]+$/;

/**
 * Why `id` cannot be a pipeline id, function id or logic key, or undefined. Each `/`-separated
 * part is non-empty, not `.` or `..`, and uses only letters, digits and `. _ + = , -`.
 */
export function idProblem(id: string): string | undefined {
  if (typeof id !== 'string') return `must be a string, got ${typeof id}`;
  for (const part of id.split('/')) {
    if (part === '' || part === '.' || part === '..') return 'each /-separated part must be non-empty and not . or ..';
    if (!ID_PART.test(part)) {
      const reserved = part.includes(LOGIC_KEY_SEPARATOR) || part.includes(ID_SLASH_IN_URI);
      return `may use only letters, digits and . _ + = , - in each /-separated part${reserved ? ` (${LOGIC_KEY_SEPARATOR} separates the logic key and ${ID_SLASH_IN_URI} stands for / in memo URIs)` : ''}`;
    }
  }
  return undefined;
}

/**
 * Folders beside the pipelines under `<blobRoot>/<KEY_FORMAT_VERSION>/`: content-addressed copies
 * of argument files (`cas/`) and which call produced an output URI (`outputs/`). No pipeline may
 * take their names, so memo records and memocall's own data never share a folder.
 */
export const RESERVED_PIPELINE_IDS: readonly string[] = ['cas', 'outputs'];

/** Throws ConfigurationError unless `id` is usable as `what` (a pipeline id, function id, logic key). */
export function checkId(id: string, what: string): void {
  const problem = idProblem(id);
  if (problem) throw new ConfigurationError(`${what} ${JSON.stringify(id)} is not usable in a memo URI: it ${problem}`);
}

/** A URI that is not a memo URI of this grammar (only readers that parse one raise it). */
export class InvalidMemoUriError extends MemocallError {
  readonly uri: string;

  constructor(uri: string, problem: string) {
    super('MEMOCALL_INVALID_MEMO_URI', `${redactUri(uri)} is not a ${KEY_FORMAT_VERSION} memo URI: ${problem}`);
    this.uri = uri;
  }
}

const escapeId = (id: string) => id.split('/').join(ID_SLASH_IN_URI);
const unescapeId = (segment: string) => segment.split(ID_SLASH_IN_URI).join('/');

/**
 * Everything of the memo URI but the arguments key: one prefix per function version. Throws
 * ConfigurationError for parts outside the grammar (they could alias another function's URI).
 */
export function functionMemospace(parts: Omit<MemoUriParts, 'argsKey'>): string {
  checkId(parts.pipelineId, 'pipeline id');
  if (RESERVED_PIPELINE_IDS.includes(parts.pipelineId))
    throw new ConfigurationError(
      `pipeline id ${JSON.stringify(parts.pipelineId)} is reserved: ${KEY_FORMAT_VERSION}/${parts.pipelineId}/ holds memocall's own data`,
    );
  checkId(parts.functionId, 'function id');
  if (parts.logicKey !== undefined) checkId(parts.logicKey, 'logicKey');
  const segments = [KEY_FORMAT_VERSION, escapeId(parts.pipelineId)];
  segments.push(
    parts.logicKey === undefined
      ? escapeId(parts.functionId)
      : `${escapeId(parts.functionId)}${LOGIC_KEY_SEPARATOR}${escapeId(parts.logicKey)}`,
  );
  if (parts.codeSegment !== undefined) segments.push(checkQualifier(parts.codeSegment, CODE_SEGMENT, 'code'));
  if (parts.callsSegment !== undefined) segments.push(checkQualifier(parts.callsSegment, CALLS_SEGMENT, 'calls'));
  return `${trimSlash(parts.blobRoot)}/${segments.join('/')}`;
}

/** The memo URI of `parts`: `functionMemospace(parts)/<argsKey>`. */
export function memoUriOf(parts: MemoUriParts): string {
  if (!isReadableKey(parts.argsKey))
    throw new ConfigurationError(`argsKey ${JSON.stringify(parts.argsKey)} is not a readable key`);
  return `${functionMemospace(parts)}/${parts.argsKey}`;
}

function checkQualifier(segment: string, pattern: RegExp, name: string): string {
  if (!pattern.test(segment))
    throw new ConfigurationError(`${name} segment ${JSON.stringify(segment)} must be ${name}-<base64url>`);
  return segment;
}

/**
 * The parts of a memo URI. With `blobRoot`, the URI must lie under it; without, the root ends at
 * the `memocall-v2` segment that leaves a valid rest, and a URI that two roots would explain
 * (a root that itself holds a `memocall-v2/…` path) is refused: pass the root then.
 * `logicKey`, `callsSegment` and `codeSegment` are undefined when absent.
 */
export function parseMemoUri(memoUri: string, blobRoot?: string): MemoUriParts {
  const fail = (problem: string): never => {
    throw new InvalidMemoUriError(memoUri, problem);
  };
  if (blobRoot !== undefined) {
    const root = trimSlash(blobRoot);
    if (!memoUri.startsWith(`${root}/`)) fail(`it is not under the blob root ${redactUri(root)}`);
    const rest = memoUri.slice(root.length + 1).split('/');
    if (rest[0] !== KEY_FORMAT_VERSION) fail(`the segment after the blob root is not ${KEY_FORMAT_VERSION}`);
    const parsed = parseRest(root, rest.slice(1));
    return typeof parsed === 'string' ? fail(parsed) : parsed;
  }
  const segments = memoUri.split('/');
  const found: MemoUriParts[] = [];
  let lastProblem = `it has no ${KEY_FORMAT_VERSION} segment`;
  for (let i = 1; i < segments.length; i++) {
    if (segments[i] !== KEY_FORMAT_VERSION) continue;
    const parsed = parseRest(segments.slice(0, i).join('/'), segments.slice(i + 1));
    if (typeof parsed === 'string') lastProblem = parsed;
    else found.push(parsed);
  }
  if (found.length > 1) fail(`it reads as a memo URI under ${found.length} different blob roots: give the blob root`);
  return found[0] ?? fail(lastProblem);
}

/** `<pipeline>/<function>[@<logicKey>]/[code-…/][calls-…/]<argsKey>` → parts, or the problem. */
function parseRest(blobRoot: string, rest: string[]): MemoUriParts | string {
  if (rest.length < 3 || rest.length > 5)
    return `expected <pipeline>/<function>[@<logicKey>]/[code-<hash>/][calls-<hash>/]<argsKey> after ${KEY_FORMAT_VERSION}, found ${rest.length} segments`;
  const [pipelineSegment, functionSegment] = rest as [string, string];
  const argsKey = rest[rest.length - 1]!;
  const qualifiers = rest.slice(2, -1);
  const [escapedFunction, escapedLogicKey, extra] = functionSegment.split(LOGIC_KEY_SEPARATOR);
  if (extra !== undefined) return `the function segment has more than one ${LOGIC_KEY_SEPARATOR}`;
  const parts: MemoUriParts = {
    blobRoot,
    pipelineId: unescapeId(pipelineSegment),
    functionId: unescapeId(escapedFunction!),
    logicKey: escapedLogicKey === undefined ? undefined : unescapeId(escapedLogicKey),
    callsSegment: undefined,
    argsKey,
  };
  const checks: [string | undefined, string][] = [
    [idProblem(parts.pipelineId), 'the pipeline id'],
    [idProblem(parts.functionId), 'the function id'],
    [parts.logicKey === undefined ? undefined : idProblem(parts.logicKey), 'the logic key'],
  ];
  for (const [problem, what] of checks) if (problem) return `${what} ${problem}`;
  // Qualifiers in their fixed order, each at most once: code, then calls.
  let next = 0;
  if (qualifiers[next] !== undefined && CODE_SEGMENT.test(qualifiers[next]!)) parts.codeSegment = qualifiers[next++];
  if (qualifiers[next] !== undefined && CALLS_SEGMENT.test(qualifiers[next]!)) parts.callsSegment = qualifiers[next++];
  if (next !== qualifiers.length)
    return `${JSON.stringify(qualifiers[next])} is not a code-<hash> or calls-<hash> segment (in that order)`;
  if (!isReadableKey(argsKey)) return `the last segment ${JSON.stringify(argsKey)} is not an arguments key`;
  return parts;
}

function isReadableKey(key: string): boolean {
  try {
    parseReadableKey(key);
    return true;
  } catch {
    return false;
  }
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
