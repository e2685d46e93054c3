import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { MemocallError } from '../../core/memocall-error.js';
import type { BlobHead } from '../blob-store.js';
import { TransientError } from './retry.js';

// Defined with the other store errors (the file and memory stores raise it too); re-exported here
// where it was first defined.
import { IntegrityError } from '../errors.js';
export { IntegrityError };

/**
 * End-to-end integrity of cloud objects. Every write stores the SHA-256 of the bytes (hex) in the
 * object's user metadata; every full read recomputes it and refuses bytes that do not match.
 * S3 and Azure ETags are NOT content hashes (multipart ETags, Azure's opaque version tags,
 * servers that make them up): they are only used as version tags for conditional requests.
 *
 * Hashing uses node:crypto (4-5x faster than @noble/hashes on large data here).
 */

/** Metadata key on S3 (sent as `x-amz-meta-memocall-sha256`). */
export const S3_SHA256_KEY = 'memocall-sha256';
/** Metadata key on Azure: names must be C# identifiers, so no dash. */
export const AZURE_SHA256_KEY = 'memocall_sha256';

/**
 * The object was replaced while it was being read in several requests (a ranged read pinned to
 * the first response's ETag was refused). The whole read must start over on the new version.
 */
export class ObjectChangedError extends MemocallError {
  readonly uri: string;

  constructor(uri: string, options?: { cause?: unknown }) {
    super('MEMOCALL_OBJECT_CHANGED', `${uri}: object was replaced while being read`, options);
    this.uri = uri;
  }
}

/** An object carries no sha256 metadata and the store was told to require one. */
export class MissingIntegrityError extends MemocallError {
  readonly uri: string;

  constructor(uri: string) {
    super('MEMOCALL_INTEGRITY_MISSING', `${uri}: object has no ${S3_SHA256_KEY} metadata (not written by memocall?)`);
    this.uri = uri;
  }
}

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/**
 * Checks bytes read against the stored digest. `stored` undefined means the object was written
 * by another tool: accepted unverified unless `required`. A malformed stored value is treated
 * as a mismatch, never as "absent", so tampering with the metadata cannot switch checks off.
 */
export function verifySha256(uri: string, stored: string | undefined, actualHex: string, required: boolean): void {
  if (stored === undefined) {
    if (required) throw new MissingIntegrityError(uri);
    return;
  }
  const expected = stored.trim().toLowerCase();
  if (!HEX_SHA256.test(expected) || expected !== actualHex) {
    throw new IntegrityError(uri, stored, actualHex);
  }
}

/** Streaming SHA-256 plus byte count of data passing through in order. */
export class Sha256Accumulator {
  readonly #hash: Hash = createHash('sha256');
  #bytes = 0;

  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.#bytes += chunk.byteLength;
  }

  get bytes(): number {
    return this.#bytes;
  }

  digestHex(): string {
    return this.#hash.digest('hex');
  }
}

/**
 * Hashes a file that is being written out of order by parallel ranged downloads, without holding
 * any of its bytes: the writer reports how far the file is complete from the start
 * (`advance(frontier)`), and a worker thread reads that prefix back from the page cache and
 * hashes it. The main thread keeps serving sockets; the hash is ready moments after the last byte.
 */
export class FrontierFileHasher {
  readonly #worker: Worker;
  readonly #result: Promise<{ sha256: string; size: number }>;
  #sent = 0;
  #closed = false;

  constructor(path: string) {
    // An eval worker keeps this in one file and needs no build step for the worker script.
    this.#worker = new Worker(FRONTIER_WORKER_SOURCE, { eval: true, workerData: { path } });
    this.#result = new Promise((resolve, reject) => {
      this.#worker.once('message', (m: { sha256: string; size: number }) => resolve(m));
      this.#worker.once('error', reject);
      this.#worker.once('exit', (code) => reject(new Error(`hash worker exited early (code ${code})`)));
    });
    // Never an unhandled rejection if the caller gives up before asking for the digest.
    this.#result.catch(() => undefined);
  }

  /**
   * Bytes [0, frontier) of the file are written and final. Messages go out per MiB at most:
   * one per socket chunk would cost the main thread more than the hashing saves.
   */
  advance(frontier: number, force = false): void {
    if (this.#closed || frontier <= this.#sent) return;
    if (!force && frontier - this.#sent < ADVANCE_STEP) return;
    this.#sent = frontier;
    this.#worker.postMessage({ to: frontier });
  }

  /** Waits for the digest of bytes [0, size). */
  async finish(size: number): Promise<{ sha256: string; size: number }> {
    this.advance(size, true);
    this.#worker.postMessage({ finish: true });
    try {
      return await this.#result;
    } finally {
      await this.close();
    }
  }

  /** Stops the worker; safe to call on any path, any number of times. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#worker.terminate();
  }
}

const ADVANCE_STEP = 1 << 20;

const FRONTIER_WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const crypto = require('node:crypto');
const fd = fs.openSync(workerData.path, 'r');
const hash = crypto.createHash('sha256');
const buf = Buffer.allocUnsafe(4 << 20);
let pos = 0;
parentPort.on('message', (m) => {
  if (m.to !== undefined) {
    while (pos < m.to) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, m.to - pos), pos);
      if (n === 0) throw new Error('file shorter than reported frontier ' + m.to + ' at ' + pos);
      hash.update(buf.subarray(0, n));
      pos += n;
    }
  }
  if (m.finish) {
    fs.closeSync(fd);
    parentPort.postMessage({ sha256: hash.digest('hex'), size: pos });
  }
});
`;

export interface VerifiedDownloadPlan {
  /** The object's URI, for errors. */
  uri: string;
  /** Where the bytes go; the caller created nothing there yet and renames it only on success. */
  tempPath: string;
  /** Total object size in bytes. */
  size: number;
  /** Bytes per ranged request. */
  partSize: number;
  /** Ranged requests in flight at once. */
  concurrency: number;
  /** The body of the request that revealed the size: bytes [0, min(partSize, size)). */
  firstBody: AsyncIterable<Uint8Array>;
  /**
   * Bytes [start, end) of the same version the first response came from (the store pins it with
   * If-Match on the ETag and turns a changed version into a `TransientError`).
   */
  fetchRange(start: number, end: number): Promise<AsyncIterable<Uint8Array>>;
  /** Retries one part from where it stopped; receives the part's description for the log. */
  retryPart<T>(what: string, attempt: (n: number) => Promise<T>): Promise<T>;
  /** The stored digest (undefined: written by another tool). */
  storedSha256: string | undefined;
  requireIntegrity: boolean;
}

/**
 * Downloads an object in parallel ranges into `tempPath` with bounded memory (nothing is held
 * but the chunks in flight), resuming a failed range from its last written byte, and verifies
 * the SHA-256 of the whole file. Throws (leaving `tempPath` for the caller to remove) when a
 * range keeps failing or the digest does not match.
 */
export async function downloadVerified(plan: VerifiedDownloadPlan): Promise<void> {
  const partCount = Math.max(1, Math.ceil(plan.size / plan.partSize));
  const written = new Array<number>(partCount).fill(0);
  const partEnd = (i: number): number => Math.min(plan.size, (i + 1) * plan.partSize);
  // One part: hash inline in order. Several: the frontier worker hashes what is complete.
  const inline = partCount === 1 ? new Sha256Accumulator() : undefined;
  // The file exists (created or truncated) before the hashing worker opens it.
  const fh = await open(plan.tempPath, 'w');
  let frontier: FrontierFileHasher | undefined;
  let frontierPart = 0;
  try {
    frontier = partCount === 1 ? undefined : new FrontierFileHasher(plan.tempPath);
    const advanceFrontier = (): void => {
      while (
        frontierPart < partCount &&
        plan.partSize * frontierPart + (written[frontierPart] ?? 0) >= partEnd(frontierPart)
      ) {
        frontierPart++;
      }
      const edge = frontierPart >= partCount ? plan.size : frontierPart * plan.partSize + (written[frontierPart] ?? 0);
      frontier?.advance(edge);
    };
    const downloadPart = async (i: number, first: AsyncIterable<Uint8Array> | undefined): Promise<void> => {
      const start = i * plan.partSize;
      const end = partEnd(i);
      await plan.retryPart(`range ${start}-${end - 1} of ${plan.uri}`, async (attempt) => {
        const done = written[i] ?? 0;
        if (start + done >= end) return;
        const body = attempt === 1 && first ? first : await plan.fetchRange(start + done, end);
        for await (const chunk of body) {
          const at = start + (written[i] ?? 0);
          if (at + chunk.byteLength > end)
            throw new TransientError(`${plan.uri}: range ${start}-${end - 1} returned too many bytes`);
          await writeFully(fh, chunk, at);
          inline?.update(chunk);
          written[i] = (written[i] ?? 0) + chunk.byteLength;
          if (i === frontierPart) advanceFrontier();
        }
        if (start + (written[i] ?? 0) !== end) {
          throw new TransientError(`${plan.uri}: range ${start}-${end - 1} ended after ${written[i] ?? 0} bytes`);
        }
      });
      advanceFrontier();
    };
    let next = 1;
    let failed = false; // once one part has failed for good, nobody starts another
    const worker = async (): Promise<void> => {
      while (!failed && next < partCount) {
        const i = next++;
        await downloadPart(i, undefined).catch((error: unknown) => {
          failed = true;
          throw error;
        });
      }
    };
    const workers = [
      downloadPart(0, plan.firstBody).catch((error: unknown) => {
        failed = true;
        throw error;
      }),
    ];
    for (let w = 1; w < Math.min(plan.concurrency, partCount); w++) workers.push(worker());
    // The first part's worker continues with the queue once its own part is done.
    workers[0] = (workers[0] as Promise<void>).then(worker);
    await settleAll(workers);
    await fh.sync().catch(() => undefined);
    const digest = inline ? { sha256: inline.digestHex(), size: inline.bytes } : await frontier!.finish(plan.size);
    if (digest.size !== plan.size) throw new IntegrityError(plan.uri, `${plan.size} bytes`, `${digest.size} bytes`);
    verifySha256(plan.uri, plan.storedSha256, digest.sha256, plan.requireIntegrity);
  } finally {
    await fh.close().catch(() => undefined);
    await frontier?.close();
  }
}

/** Like Promise.all, but waits for every worker to stop before rejecting with the first error. */
async function settleAll(promises: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

async function writeFully(fh: FileHandle, chunk: Uint8Array, position: number): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await fh.write(chunk, offset, chunk.byteLength - offset, position + offset);
    offset += bytesWritten;
  }
}

/** `head` with the sha256 the object's metadata holds, when it is a well-formed one. */
export function withSha256(head: BlobHead, stored: string | undefined): BlobHead {
  return stored !== undefined && /^[0-9a-f]{64}$/.test(stored) ? { ...head, sha256: stored } : head;
}
