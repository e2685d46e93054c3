import fs from 'node:fs';
import { updateInSlices } from '../../core/sha256.js';

/**
 * File reads and writes of any length, hashed on the way. One `fs.read`/`fs.write` takes at most
 * 2^31-1 bytes, so objects are moved in chunks; each chunk is hashed on the main thread while
 * the thread pool already moves the next one, so hashing costs (almost) no time on top of I/O.
 * Small transfers (up to `syncLimit`) use synchronous calls: a thread-pool round trip costs more
 * than the read of a small file.
 */

export interface ChunkOptions {
  /** Bytes per fs call above the sync limit. */
  chunkBytes: number;
  /** Transfers up to this size use synchronous calls. */
  syncLimit: number;
}

/** 64 MiB: few calls for huge objects, far below the 2 GiB per-call limit. */
export const DEFAULT_CHUNK_OPTIONS: ChunkOptions = { chunkBytes: 64 * 1024 * 1024, syncLimit: 256 * 1024 };

interface HashSink {
  update(data: Uint8Array): unknown;
}

/**
 * Reads `target.byteLength` bytes of `fd` from `position` into `target`, feeding them to `hash` in
 * order. Returns the bytes read (fewer only if the file ended early).
 */
export async function readHashed(
  fd: number,
  target: Uint8Array,
  position: number,
  hash: HashSink | undefined,
  opts: ChunkOptions,
): Promise<number> {
  const size = target.byteLength;
  if (size <= opts.syncLimit) {
    let done = 0;
    while (done < size) {
      const n = fs.readSync(fd, target, done, size - done, position + done);
      if (n === 0) break;
      done += n;
    }
    if (hash) updateInSlices(hash, target.subarray(0, done));
    return done;
  }
  const readAt = (at: number): Promise<number> =>
    readAsync(fd, target, at, Math.min(opts.chunkBytes, size - at), position + at);
  let done = 0;
  let pending: Promise<number> | undefined = readAt(0);
  try {
    while (pending) {
      const n: number = await pending;
      pending = undefined;
      if (n === 0) break;
      const start = done;
      done += n;
      if (done < size) pending = readAt(done);
      if (hash) updateInSlices(hash, target.subarray(start, done));
    }
  } finally {
    await pending?.catch(() => undefined); // never leave a read in flight into a closing fd
  }
  return done;
}

/** Writes all of `data` at `position` of `fd`, feeding it to `hash` (if any) while it is written. */
export async function writeHashed(
  fd: number,
  data: Uint8Array,
  position: number,
  hash: HashSink | undefined,
  opts: ChunkOptions,
): Promise<void> {
  if (data.byteLength <= opts.syncLimit) {
    writeFullySync(fd, data, position);
    if (hash) updateInSlices(hash, data);
    return;
  }
  for (let at = 0; at < data.byteLength; at += opts.chunkBytes) {
    const chunk = data.subarray(at, Math.min(data.byteLength, at + opts.chunkBytes));
    const writing = writeFully(fd, chunk, position + at);
    try {
      if (hash) updateInSlices(hash, chunk);
    } finally {
      await writing;
    }
  }
}

/**
 * Copies up to `size` bytes of `from` (from `fromPosition`) to `to` (at `toPosition`), hashing
 * them; two chunk buffers, so memory stays small whatever the size. Returns the bytes copied
 * (fewer only if the source ended early).
 */
export async function copyHashed(
  from: number,
  fromPosition: number,
  size: number,
  to: number,
  toPosition: number,
  hash: HashSink,
  opts: ChunkOptions,
  onProgress?: (doneBytes: number) => void,
): Promise<number> {
  const chunk = Math.max(1, Math.min(size, Math.min(opts.chunkBytes, 8 * 1024 * 1024)));
  const buffers = [Buffer.allocUnsafeSlow(chunk), Buffer.allocUnsafeSlow(chunk)];
  const readAt = (at: number, buffer: Buffer): Promise<number> =>
    readAsync(from, buffer, 0, Math.min(chunk, size - at), fromPosition + at);
  let done = 0;
  let which = 0;
  let pending: Promise<number> | undefined = size > 0 ? readAt(0, buffers[0]!) : undefined;
  try {
    while (pending) {
      const n: number = await pending;
      pending = undefined;
      if (n === 0) break;
      const data = buffers[which]!.subarray(0, n);
      const at = done;
      done += n;
      which ^= 1;
      if (done < size) pending = readAt(done, buffers[which]!);
      const writing = writeFully(to, data, toPosition + at);
      try {
        hash.update(data);
      } finally {
        await writing;
      }
      onProgress?.(done);
    }
  } finally {
    await pending?.catch(() => undefined);
  }
  return done;
}

export function writeFullySync(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.byteLength) done += fs.writeSync(fd, data, done, data.byteLength - done, position + done);
}

async function writeFully(fd: number, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.byteLength) {
    done += await new Promise<number>((resolve, reject) =>
      fs.write(fd, data, done, data.byteLength - done, position + done, (err, n) => (err ? reject(err) : resolve(n))),
    );
  }
}

function readAsync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    fs.read(fd, buffer, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))),
  );
}
