import { decodeCanonical } from '../core/canonical-decode.js';
import { encodeCanonical } from '../core/canonical-encode.js';
import type { StoredError } from './errors.js';

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

export function decodeErrorRecord(bytes: Uint8Array): ErrorRecord {
  return decodeCanonical(bytes) as ErrorRecord;
}
