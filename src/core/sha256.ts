import { createHash, hash } from 'node:crypto';

/**
 * SHA-256, the hash of invocation keys, by node:crypto (4-5x faster than pure JS on large data; the
 * tests check it against @noble/hashes, a portable implementation). Files: sha256-file.ts.
 * All functions return a plain Uint8Array (never a Buffer) of 32 bytes.
 *
 * OpenSSL takes at most 2^31-1 bytes per call ("data is too long" beyond), so inputs above
 * HASH_SLICE_BYTES are fed to one Hash object in slices (views: nothing is copied).
 */

/** 256 MiB: far below the 2 GiB limit, large enough that per-call overhead is nil. */
const HASH_SLICE_BYTES = 256 * 1024 * 1024;

function plain(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** One-shot hash: `crypto.hash` skips the Hash object and is the fastest call for small inputs. */
export function sha256(data: Uint8Array): Uint8Array {
  if (data.byteLength > HASH_SLICE_BYTES) return sha256Chunks([data]);
  return plain(hash('sha256', data, 'buffer'));
}

/** Lower-case hex digest of bytes or of a string's UTF-8 (names of cache entries, lock files, cloud metadata). */
export function sha256Hex(data: Uint8Array | string): string {
  if (typeof data !== 'string' && data.byteLength > HASH_SLICE_BYTES) return Buffer.from(sha256(data)).toString('hex');
  return hash('sha256', data, 'hex');
}

/** The hash of the concatenation of `chunks`, without concatenating them. */
export function sha256Chunks(chunks: readonly Uint8Array[], sliceBytes = HASH_SLICE_BYTES): Uint8Array {
  if (chunks.length === 1 && chunks[0]!.byteLength <= sliceBytes) return plain(hash('sha256', chunks[0]!, 'buffer'));
  const h = createHash('sha256');
  for (const chunk of chunks) updateInSlices(h, chunk, sliceBytes);
  return plain(h.digest());
}

/** `h.update(data)` for data of any length. */
export function updateInSlices(
  h: { update(data: Uint8Array): unknown },
  data: Uint8Array,
  sliceBytes = HASH_SLICE_BYTES,
): void {
  for (let at = 0; at < data.byteLength; at += sliceBytes) {
    h.update(data.subarray(at, Math.min(data.byteLength, at + sliceBytes)));
  }
}
