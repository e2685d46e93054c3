import { decodeCanonical } from '../core/canonical-decode.js';
import { CorruptRecordError } from './corrupt-record.js';

/**
 * Field checks for records read from a store. Each returns the problem as text (naming the field
 * and what was found) or undefined, so a decoder can report the first problem of a record.
 */
export type FieldProblem = string | undefined;

export function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`;
  if (typeof value === 'string')
    return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

export function stringField(
  record: Record<string, unknown>,
  field: string,
  opts: { optional?: boolean; nonEmpty?: boolean } = {},
): FieldProblem {
  const value = record[field];
  if (value === undefined && opts.optional) return undefined;
  if (typeof value !== 'string') return `${field} must be a string, found ${describeValue(value)}`;
  if (opts.nonEmpty && value.length === 0) return `${field} must not be empty`;
  return undefined;
}

export function bytesField(record: Record<string, unknown>, field: string): FieldProblem {
  const value = record[field];
  return value instanceof Uint8Array ? undefined : `${field} must be bytes, found ${describeValue(value)}`;
}

/** A safe integer in [min, max] (JSON or CBOR numbers: no NaN, Infinity, fractions or 1e308). */
export function integerField(
  record: Record<string, unknown>,
  field: string,
  min: number,
  max: number,
  opts: { optional?: boolean } = {},
): FieldProblem {
  const value = record[field];
  if (value === undefined && opts.optional) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value))
    return `${field} must be an integer, found ${describeValue(value)}`;
  if (value < min || value > max) return `${field} must be within [${min}, ${max}], found ${value}`;
  return undefined;
}

export function firstProblem(...problems: FieldProblem[]): FieldProblem {
  return problems.find((p) => p !== undefined);
}

/** Canonical CBOR → a plain record, or CorruptRecordError naming `uri`. */
export function decodeCanonicalRecord(bytes: Uint8Array, uri: string): Record<string, unknown> {
  let decoded: unknown;
  try {
    decoded = decodeCanonical(bytes);
  } catch (err) {
    throw new CorruptRecordError(uri, `cannot be decoded (${err instanceof Error ? err.message : String(err)})`, {
      cause: err,
    });
  }
  if (!isPlainRecord(decoded)) throw new CorruptRecordError(uri, `not a record: ${describeValue(decoded)}`);
  return decoded;
}
