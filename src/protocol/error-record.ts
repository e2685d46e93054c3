import { encodeCanonical } from '../core/canonical-encode.js';
import { CorruptRecordError } from './corrupt-record.js';
import type { StoredError } from './errors.js';
import {
  decodeCanonicalRecord,
  describeValue,
  firstProblem,
  isPlainRecord,
  stringField,
  type FieldProblem,
} from './record-fields.js';

/** The `error` file: a thrown error as plain data, plus who threw it. */
export interface ErrorRecord {
  error: StoredError;
  runId: string;
  writerId: string;
  functionId: string;
  finishedAt: string;
}

const MAX_CAUSE_DEPTH = 8;

/** Reduces anything thrown to plain, encodable data, keeping name, message, stack, code and cause. */
export function toStoredError(thrown: unknown, depth = 0): StoredError {
  if (!(thrown instanceof Error)) {
    return {
      name: 'NonErrorThrown',
      message: `a non-Error value was thrown: ${describe(thrown)}`,
      props: encodableProps({ value: thrown }).props,
    };
  }
  const stored: StoredError = { name: thrown.name, message: thrown.message };
  if (thrown.stack) stored.stack = thrown.stack;
  const code = (thrown as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') stored.code = code;
  if (thrown.cause !== undefined && depth < MAX_CAUSE_DEPTH) {
    stored.cause =
      thrown.cause instanceof Error
        ? toStoredError(thrown.cause, depth + 1)
        : { value: encodableOrString(thrown.cause) };
  }
  const own: Record<string, unknown> = {};
  for (const key of Object.keys(thrown)) {
    if (key !== 'name' && key !== 'message' && key !== 'stack' && key !== 'cause' && key !== 'code')
      own[key] = (thrown as unknown as Record<string, unknown>)[key];
  }
  const { props, dropped } = encodableProps(own);
  if (Object.keys(props).length) stored.props = props;
  if (dropped.length) stored.droppedProps = dropped;
  return stored;
}

function encodableProps(own: Record<string, unknown>): { props: Record<string, unknown>; dropped: string[] } {
  const props: Record<string, unknown> = {};
  const dropped: string[] = [];
  for (const [key, value] of Object.entries(own)) {
    try {
      encodeCanonical(value, key);
      props[key] = value;
    } catch {
      dropped.push(key);
    }
  }
  return { props, dropped };
}

function encodableOrString(value: unknown): unknown {
  try {
    encodeCanonical(value, 'cause');
    return value;
  } catch {
    return describe(value);
  }
}

function describe(value: unknown): string {
  try {
    return typeof value === 'string' ? JSON.stringify(value) : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

export function encodeErrorRecord(record: ErrorRecord): Uint8Array {
  return encodeCanonical(record, 'errorRecord');
}

/**
 * The record read from `uri` (for messages), checked field by field down the cause chain: throws
 * CorruptRecordError for anything memocall does not write, so reviving it cannot throw.
 */
export function decodeErrorRecord(bytes: Uint8Array, uri = 'error'): ErrorRecord {
  const record = decodeCanonicalRecord(bytes, uri);
  const problem = firstProblem(
    storedErrorProblem(record.error, 'error', 0),
    stringField(record, 'runId'),
    stringField(record, 'writerId'),
    stringField(record, 'functionId'),
    stringField(record, 'finishedAt'),
  );
  if (problem) throw new CorruptRecordError(uri, problem);
  return record as unknown as ErrorRecord;
}

/** Causes deeper than the writer keeps (MAX_CAUSE_DEPTH) are not memocall's. */
function storedErrorProblem(value: unknown, path: string, depth: number): FieldProblem {
  if (!isPlainRecord(value)) return `${path} must be a stored error, found ${describeValue(value)}`;
  if (depth > MAX_CAUSE_DEPTH) return `${path}: causes nested deeper than ${MAX_CAUSE_DEPTH}`;
  const code = value.code;
  const problem = firstProblem(
    prefixed(path, stringField(value, 'name')),
    prefixed(path, stringField(value, 'message')),
    prefixed(path, stringField(value, 'stack', { optional: true })),
    code === undefined || typeof code === 'string' || (typeof code === 'number' && Number.isFinite(code))
      ? undefined
      : `${path}.code must be a string or number, found ${describeValue(code)}`,
    value.props === undefined || isPlainRecord(value.props)
      ? undefined
      : `${path}.props must be an object, found ${describeValue(value.props)}`,
    value.droppedProps === undefined ||
      (Array.isArray(value.droppedProps) && value.droppedProps.every((p) => typeof p === 'string'))
      ? undefined
      : `${path}.droppedProps must be a list of strings`,
  );
  if (problem || value.cause === undefined) return problem;
  const cause = value.cause;
  // A cause that was not an Error is stored as { value } (no message): see toStoredError.
  if (isPlainRecord(cause) && 'value' in cause && !('message' in cause)) return undefined;
  return storedErrorProblem(cause, `${path}.cause`, depth + 1);
}

function prefixed(path: string, problem: FieldProblem): FieldProblem {
  return problem === undefined ? undefined : `${path}.${problem}`;
}
