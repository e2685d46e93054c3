import { IntegrityError } from '../errors.js';

/**
 * The header every object of the file store starts with: a magic, the length of the bytes that
 * follow and their SHA-256. It is written into the same temp file as the bytes, before that file is
 * linked or renamed into place, so a visible version always carries its own digest, and
 * create-if-absent (link) and compare-and-swap (rename under the lock) stay single atomic steps.
 * A header (rather than a trailer) also catches the usual crash damage, a cut or zero-filled tail.
 *
 *   0  16  magic `\x89memocall-sum\r\n\x1a` (PNG-style: not text, not CBOR, mangled by text-mode copies)
 *  16   8  data length, unsigned big-endian
 *  24  32  SHA-256 of the data
 *  56   …  the data
 *
 * Files that do not start with the magic were written by memocall before this header existed
 * (or planted by hand): they read as they are, unverified (`head().sha256` undefined), unless the
 * store requires digests. A magic that differs in a few bits is a damaged header, not an old
 * object: a bit flip there must not turn checking off.
 */

export const HEADER_BYTES = 56;
const MAGIC = Buffer.from('\x89memocall-sum\r\n\x1a', 'latin1');
const LENGTH_AT = 16;
const DIGEST_AT = 24;
/** Up to this many differing bits (of 128) the first 16 bytes count as a damaged magic. */
const MAGIC_TOLERANCE_BITS = 24;

export function encodeHeader(dataLength: number, sha256: Uint8Array): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeBigUInt64BE(BigInt(dataLength), LENGTH_AT);
  header.set(sha256, DIGEST_AT);
  return header;
}

export type ParsedHeader =
  /** A checksummed object: `size` data bytes from offset HEADER_BYTES. */
  | { kind: 'checksummed'; size: number; sha256: string }
  /** An object without a header: all `size` bytes of the file are data. */
  | { kind: 'plain'; size: number };

/**
 * Reads the header from the first bytes of a file of `fileSize` bytes (`first` holds
 * min(HEADER_BYTES, fileSize) of them). Throws IntegrityError for a damaged header or a file
 * whose length does not match the one recorded.
 */
export function parseHeader(uri: string, first: Uint8Array, fileSize: number): ParsedHeader {
  if (!looksLikeMagic(first)) return { kind: 'plain', size: fileSize };
  const header = Buffer.from(first.buffer, first.byteOffset, first.byteLength);
  if (header.byteLength < HEADER_BYTES || header.compare(MAGIC, 0, MAGIC.length, 0, MAGIC.length) !== 0) {
    throw new IntegrityError(uri, 'a memocall object header', 'a damaged header');
  }
  const recorded = header.readBigUInt64BE(LENGTH_AT);
  const actual = BigInt(fileSize - HEADER_BYTES);
  if (recorded !== actual) throw new IntegrityError(uri, `${recorded} bytes`, `${actual} bytes`);
  return {
    kind: 'checksummed',
    size: Number(actual),
    sha256: header.subarray(DIGEST_AT, DIGEST_AT + 32).toString('hex'),
  };
}

/** The magic, or something within a few bit flips of it (also when the file is shorter than a header). */
function looksLikeMagic(first: Uint8Array): boolean {
  const n = Math.min(first.byteLength, MAGIC.length);
  if (n < MAGIC.length / 2) return false;
  let differing = (MAGIC.length - n) * 8;
  for (let i = 0; i < n; i++) differing += popcount8(first[i]! ^ MAGIC[i]!);
  return differing <= MAGIC_TOLERANCE_BITS;
}

function popcount8(x: number): number {
  let v = x - ((x >> 1) & 0x55);
  v = (v & 0x33) + ((v >> 2) & 0x33);
  return (v + (v >> 4)) & 0x0f;
}
