import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { LocalFileChangedError } from './local-file-changed-error.js';

/**
 * SHA-256 of local files (the one file hash of memocall) at the speed of node:crypto: reads go to the thread pool in large
 * chunks, and the next chunk is read while the current one is hashed, so reading costs (almost)
 * nothing on top of hashing. Two buffers, reused: memory stays at 2 × CHUNK whatever the size.
 */

/** 1 MiB: per-call overhead is negligible, and a chunk is still in the CPU cache when it is hashed (measured: 4 MiB and more are slower). */
const CHUNK = 1024 * 1024;

export interface FileDigest {
  /** Lower-case hex. */
  sha256: string;
  size: number;
}

/** Called with the bytes done so far; for progress display. */
export type ProgressCallback = (doneBytes: number) => void;

/** Hashes the whole file; `LocalFileChangedError` if its size changed while it was read. */
export async function sha256OfFile(file: string, onProgress?: ProgressCallback): Promise<FileDigest> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const { size } = await handle.stat();
    const hash = createHash('sha256');
    const done = await pumpChunks(handle.fd, size, (chunk) => hash.update(chunk), onProgress);
    if (done !== size)
      throw new LocalFileChangedError(file, `while being hashed (${size} bytes expected, ${done} read)`);
    return { sha256: hash.digest('hex'), size };
  } finally {
    await handle.close();
  }
}

/**
 * Reads `size` bytes from `fd` in CHUNK pieces into two alternating buffers and hands each chunk
 * to `consume` while the next read is already in flight. Returns the bytes actually read (less
 * than `size` if the file shrank; more is never read).
 */
async function pumpChunks(
  fd: number,
  size: number,
  consume: (chunk: Buffer) => void,
  onProgress?: ProgressCallback,
): Promise<number> {
  const buffers = [
    Buffer.allocUnsafeSlow(Math.min(CHUNK, Math.max(size, 1))),
    Buffer.allocUnsafeSlow(Math.min(CHUNK, Math.max(size, 1))),
  ];
  let position = 0;
  let which = 0;
  let pending = size > 0 ? readInto(fd, buffers[0]!, position, size) : Promise.resolve(0);
  while (position < size) {
    const n = await pending;
    if (n === 0) break;
    const chunk = buffers[which]!.subarray(0, n);
    position += n;
    which ^= 1;
    if (position < size) pending = readInto(fd, buffers[which]!, position, size);
    consume(chunk);
    onProgress?.(position);
  }
  return position;
}

function readInto(fd: number, buffer: Buffer, position: number, size: number): Promise<number> {
  const length = Math.min(buffer.byteLength, size - position);
  return new Promise((resolve, reject) =>
    fs.read(fd, buffer, 0, length, position, (err, n) => (err ? reject(err) : resolve(n))),
  );
}
