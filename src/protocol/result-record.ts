import { encodeCanonical } from '../core/canonical-encode.js';
import { CorruptRecordError } from './corrupt-record.js';
import { bytesField, decodeCanonicalRecord, firstProblem, stringField } from './record-fields.js';

/** The `result` file: the encoded return value plus who produced it. */
export interface ResultRecord {
  /** Canonical encoding of the returned value, decoded afresh for every caller. */
  value: Uint8Array;
  runId: string;
  writerId: string;
  functionId: string;
  finishedAt: string;
}

/** Encodes the returned value first so an unencodable result fails with the path `result...`. */
export function encodeResult(
  value: unknown,
  info: Omit<ResultRecord, 'value'>,
): { record: Uint8Array; value: Uint8Array } {
  const encodedValue = encodeCanonical(value, 'result');
  return { record: encodeCanonical({ ...info, value: encodedValue }, 'resultRecord'), value: encodedValue };
}

/**
 * The record read from `uri` (for messages), checked field by field: throws CorruptRecordError
 * for anything memocall does not write. The value's own bytes are decoded by the caller.
 */
export function decodeResultRecord(bytes: Uint8Array, uri = 'result'): ResultRecord {
  const record = decodeCanonicalRecord(bytes, uri);
  const problem = firstProblem(
    bytesField(record, 'value'),
    stringField(record, 'runId'),
    stringField(record, 'writerId'),
    stringField(record, 'functionId'),
    stringField(record, 'finishedAt'),
  );
  if (problem) throw new CorruptRecordError(uri, problem);
  return record as unknown as ResultRecord;
}
