import { encodeCanonical } from '../core/canonical-encode.js';
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
   * The caller's absolute code root. Only a hint, for a remote on the same machine that cannot
   * find the module from its own code root (`memocall run` started by hand from elsewhere).
   */
  codeRoot?: string;
}

export function encodeInvocation(record: InvocationRecord): Uint8Array {
  return encodeCanonical(stripUndefined(record), 'invocation');
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
    stringField(record, 'runtimeModule', { optional: true }),
    bytesField(record, 'args'),
    stringField(record, 'invokedAt'),
    stringField(record, 'invokedBy'),
    stringField(record, 'writerId'),
    stringField(record, 'codeRoot', { optional: true }),
  );
  if (problem) throw new CorruptRecordError(uri, problem);
  return record as unknown as InvocationRecord;
}

function memoPartsProblem(memo: unknown): FieldProblem {
  if (!isPlainRecord(memo)) return `memo must be an object, found ${describeValue(memo)}`;
  const problem = firstProblem(
    stringField(memo, 'blobRoot'),
    stringField(memo, 'pipelineId'),
    stringField(memo, 'functionId'),
    stringField(memo, 'logicKey', { optional: true }),
    stringField(memo, 'callsSegment', { optional: true }),
    stringField(memo, 'argsKey'),
  );
  return problem === undefined ? undefined : `memo.${problem}`;
}

function stripUndefined<T extends object>(record: T): T {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as T;
}
