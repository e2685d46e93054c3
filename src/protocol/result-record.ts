import { decodeCanonical } from '../core/canonical-decode.js';
import { encodeCanonical } from '../core/canonical-encode.js';

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

export function decodeResultRecord(bytes: Uint8Array): ResultRecord {
  return decodeCanonical(bytes) as ResultRecord;
}
