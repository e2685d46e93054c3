/**
 * Issue 18, finding 2: a live holder keeps its lease on a store whose writes are slow. The
 * holder writes through a store that delays every lease write; a waiter in the same process
 * reads the same files through the plain file store and must never get the lease.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, expect, test } from 'vitest';
import type { BlobStore, PutOptions } from '../../src/blobstore/blob-store.js';
import { lookupBlobStore, registerBlobStore } from '../../src/blobstore/registry.js';
import { SLOW_LEASE_REFRESH_WARNING, tryAcquireLease } from '../../src/execute/lease.js';
import { LeaseWatch } from '../../src/execute/lease-watch.js';
import { useTempDir } from '../support/temp-dir.js';

const tempDir = useTempDir();

/** `slowlease:///path` is `file:///path`, with every write to a `lease` delayed by `delayMs`. */
const slow = { delayMs: 0 };
registerBlobStore('slowlease', () => {
  const file = lookupBlobStore('file:///');
  const real = (uri: string) => uri.replace(/^slowlease:/, 'file:');
  const store: BlobStore = {
    get: (uri) => file.get(real(uri)),
    async put(uri: string, data: Uint8Array, opts?: PutOptions) {
      if (uri.endsWith('/lease') && slow.delayMs > 0) await sleep(slow.delayMs);
      return file.put(real(uri), data, opts);
    },
    head: (uri) => file.head(real(uri)),
    async *list(prefix) {
      for await (const uri of file.list(real(prefix))) yield uri.replace(/^file:/, 'slowlease:');
    },
    delete: (uri) => file.delete(real(uri)),
    getFile: (uri, localPath) => file.getFile(real(uri), localPath),
    putFile: (localPath, uri, opts) => file.putFile(localPath, real(uri), opts),
  };
  return store;
});

const warnings: Error[] = [];
const onWarning = (warning: Error) => warnings.push(warning);
process.on('warning', onWarning);
afterEach(() => {
  slow.delayMs = 0;
  warnings.length = 0;
});

/**
 * A holder with `ttlMs` on writes delayed by `delayMs` versus a waiter polling every 100 ms for
 * `watchMs`: whether the waiter ever took the lease.
 */
async function takenOverDuring(ttlMs: number, delayMs: number, watchMs: number): Promise<boolean> {
  const { uri } = tempDir();
  const holderUri = `${uri.replace(/^file:/, 'slowlease:')}/lease`;
  const got = await tryAcquireLease(lookupBlobStore(holderUri), holderUri, 'holder', { ttlMs });
  if (!got.acquired) throw new Error('the holder could not take a fresh lease');
  slow.delayMs = delayMs;
  const watch = new LeaseWatch(ttlMs);
  const waiterUri = `${uri}/lease`;
  const until = Date.now() + watchMs;
  try {
    while (Date.now() < until) {
      const attempt = await tryAcquireLease(lookupBlobStore(waiterUri), waiterUri, 'waiter', { ttlMs, watch });
      if (attempt.acquired) {
        await attempt.lease.release();
        return true;
      }
      await sleep(100);
    }
    return false;
  } finally {
    slow.delayMs = 0;
    await got.lease.release();
  }
}

test('a live holder whose lease writes take 0.4 TTL keeps its lease (they cost it the lease before)', async () => {
  // Before: the heartbeat was stamped before a write and the next one scheduled a period after
  // the write ended, so it was up to refresh + 2 × delay old: 2 s + 3.2 s > 4 s.
  expect(await takenOverDuring(4_000, 1_600, 14_000)).toBe(false);
}, 40_000);

test('a refresh write slower than a quarter of the TTL warns once, naming the lease', async () => {
  expect(await takenOverDuring(2_000, 700, 3_000)).toBe(false);
  const slowWarnings = warnings.filter((w) => (w as { code?: string }).code === SLOW_LEASE_REFRESH_WARNING);
  expect(slowWarnings).toHaveLength(1);
  expect(slowWarnings[0]!.message).toMatch(/lease.*took \d+ ms, more than a quarter of its TTL \(2000 ms\)/);
}, 30_000);
