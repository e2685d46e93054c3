import fs from 'node:fs';
import { HEADER_BYTES, parseHeader } from '../../src/blobstore/local/object-header.js';

/**
 * The bytes of a file-store object read straight from its file (for tests that look into a
 * file:// store directly): the file minus its checksum header. Unverified.
 */
export function readFileStoreObject(file: string): Buffer {
  const raw = fs.readFileSync(file);
  const header = parseHeader(file, raw.subarray(0, HEADER_BYTES), raw.byteLength);
  return header.kind === 'checksummed' ? raw.subarray(HEADER_BYTES) : raw;
}

/** The same, as UTF-8 text. */
export function readFileStoreObjectText(file: string): string {
  return readFileStoreObject(file).toString('utf8');
}
