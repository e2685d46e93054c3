import { markDecodedViewsSafe } from '../core/canonical-decode.js';
import { byteStringHead, encodeCanonical } from '../core/canonical-encode.js';
import { redactUris } from '../core/redact-uri.js';
import type { KEY_FORMAT_VERSION } from '../core/key-format.js';
import { CorruptRecordError } from './corrupt-record.js';
import type { MemoUriParts } from './memo-uri.js';
import {
  bytesField,
  decodeCanonicalRecord,
  describeValue,
  firstProblem,
  isPlainRecord,
  stringField,
  type FieldProblem,
} from './record-fields.js';

/** The `invocation` file: everything a remote needs to find and run the call. */
export interface InvocationRecord {
  format: typeof KEY_FORMAT_VERSION;
  memo: MemoUriParts;
  functionId: string;
  /** Source module relative to the code root, extension dropped. */
  moduleId: string;
  /** The running file relative to the code root (differs from moduleId when compiled). */
  runtimeModule: string | undefined;
  /** The canonical encoding of the argument array: exactly the bytes that were hashed. */
  args: Uint8Array;
  invokedAt: string;
  invokedBy: string;
  writerId: string;
  /**
   * The caller's absolute code root, for people (`memocall inspect`). A remote never uses it: it
   * resolves modules inside its own code root only (execute/module-loader.ts).
   */
  codeRoot?: string;
}

export function encodeInvocation(record: InvocationRecord): Uint8Array {
  return encodeCanonical(stripUndefined(record), 'invocation');
}

/** An invocation's bytes, and its record, whose `args` is a view of those bytes. */
export interface EncodedInvocation {
  bytes: Uint8Array;
  record: InvocationRecord;
}

// The canonical encoding of the key "args" followed by an empty byte string.
const ARGS_KEY_AND_EMPTY_VALUE = [0x64, 0x61, 0x72, 0x67, 0x73, 0x40];

/**
 * The invocation of `fields` with the arguments encoded as `argsChunks` (encodeArgs' chunks,
 * large ones views of the caller's memory): the same bytes as encodeInvocation, built with one
 * copy of the arguments, however large. The record's `args` is a view of those bytes, marked so
 * that decoding it returns its byte strings as views too (markDecodedViewsSafe): an in-process
 * run then holds no copy of its own. Those bytes are being written while it runs; a memoized
 * function must not write into its arguments.
 */
export function encodeInvocationOfChunks(
  fields: Omit<InvocationRecord, 'args'>,
  argsChunks: readonly Uint8Array[],
): EncodedInvocation {
  // Canonical order puts `args` first (the shortest key, and before `memo`): the skeleton is the
  // map's one-byte head, "args" with an empty value, then every other field.
  const skeleton = encodeCanonical(stripUndefined({ ...fields, args: new Uint8Array(0) }), 'invocation');
  const at = 1;
  if (
    skeleton[0]! >> 5 !== 5 ||
    (skeleton[0]! & 0x1f) >= 24 ||
    ARGS_KEY_AND_EMPTY_VALUE.some((b, i) => skeleton[at + i] !== b)
  ) {
    throw new Error('internal: the invocation does not start with its args field');
  }
  let argsLength = 0;
  for (const chunk of argsChunks) argsLength += chunk.byteLength;
  const head = byteStringHead(argsLength);
  const keyEnd = at + ARGS_KEY_AND_EMPTY_VALUE.length - 1; // before the empty value's head
  const rest = skeleton.subarray(keyEnd + 1);
  const bytes = new Uint8Array(keyEnd + head.byteLength + argsLength + rest.byteLength);
  bytes.set(skeleton.subarray(0, keyEnd), 0);
  bytes.set(head, keyEnd);
  const argsStart = keyEnd + head.byteLength;
  let offset = argsStart;
  for (const chunk of argsChunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  bytes.set(rest, offset);
  const args = markDecodedViewsSafe(bytes.subarray(argsStart, argsStart + argsLength));
  return { bytes, record: { ...fields, args } };
}

/**
 * The record read from `uri` (for messages), checked field by field: throws CorruptRecordError
 * for anything memocall does not write. Only the shape: whether its module may be imported is
 * the module loader's decision.
 */
export function decodeInvocation(bytes: Uint8Array, uri = 'invocation'): InvocationRecord {
  const record = decodeCanonicalRecord(bytes, uri);
  const problem = firstProblem(
    stringField(record, 'format', { nonEmpty: true }),
    memoPartsProblem(record.memo),
    stringField(record, 'functionId', { nonEmpty: true }),
    stringField(record, 'moduleId'),
    modulePathProblem('moduleId', record.moduleId),
    stringField(record, 'runtimeModule', { optional: true }),
    modulePathProblem('runtimeModule', record.runtimeModule),
    bytesField(record, 'args'),
    stringField(record, 'invokedAt'),
    stringField(record, 'invokedBy'),
    stringField(record, 'writerId'),
    stringField(record, 'codeRoot', { optional: true }),
  );
  if (problem) throw new CorruptRecordError(uri, problem);
  // The record's own copy, read only to decode the arguments from: they may be views of it.
  markDecodedViewsSafe(record.args as Uint8Array);
  return record as unknown as InvocationRecord;
}

/** The fields of an invocation that name a file for a remote to import, relative to its code root. */
export const MODULE_PATH_FIELDS = ['moduleId', 'runtimeModule'] as const;

const WINDOWS_DRIVE = /^[A-Za-z]:/;

/**
 * Why `value` (of the invocation field `field`) cannot name a module inside a code root, or
 * undefined. memocall writes these as `/`-separated paths relative to the code root
 * (`examples/fibonacci`, `dist/pipeline.js`), so anything else is refused as it stands, never
 * normalized into shape: absolute paths, `..`, `.` and empty segments, backslashes, drive letters,
 * control characters. A record is anyone's data (docs/security.md, "Module resolution in remotes").
 */
export function modulePathProblem(field: string, value: unknown): FieldProblem {
  if (typeof value !== 'string') return undefined; // the type is stringField's to report
  const shown = quotedModulePath(value);
  const refuse = (why: string) => `${field} ${shown} ${why}`;
  if (value === '') return refuse('is empty');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(value)) return refuse('contains control characters');
  if (value.includes('\\')) return refuse('contains a backslash: module paths are /-separated');
  if (value.startsWith('/') || WINDOWS_DRIVE.test(value)) return refuse('is an absolute path');
  for (const segment of value.split('/')) {
    if (segment === '..') return refuse('leaves the code root (a .. segment)');
    if (segment === '.' || segment === '') return refuse('is not a normalized path (a . or empty segment)');
  }
  return undefined;
}

/** A module path for a message: quoted (control characters escaped), capped, credentials redacted. */
export function quotedModulePath(value: string): string {
  const MAX = 200;
  return redactUris(JSON.stringify(value.length > MAX ? `${value.slice(0, MAX)}…` : value));
}

function memoPartsProblem(memo: unknown): FieldProblem {
  if (!isPlainRecord(memo)) return `memo must be an object, found ${describeValue(memo)}`;
  const problem = firstProblem(
    stringField(memo, 'blobRoot'),
    stringField(memo, 'pipelineId'),
    stringField(memo, 'functionId'),
    stringField(memo, 'logicKey', { optional: true }),
    stringField(memo, 'codeSegment', { optional: true }),
    stringField(memo, 'callsSegment', { optional: true }),
    stringField(memo, 'argsKey'),
  );
  return problem === undefined ? undefined : `memo.${problem}`;
}

function stripUndefined<T extends object>(record: T): T {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as T;
}
