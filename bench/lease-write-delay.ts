// The largest lease-write delay a live holder survives, as a fraction of its TTL (issue 18,
// finding 2). A holder refreshes through a store that delays every lease write by a fixed
// fraction of the TTL; a waiter polls the same files through the plain file store for 4 TTLs.
// Two cases: a store slow from the start (the lease is taken through it too: `steady`), and one
// that turns slow after the lease was taken (`sudden`: the first slow refresh has no estimate of
// its write time). Prints, per case and fraction, whether the waiter took the lease over.
//   npx tsx bench/lease-write-delay.ts [ttlMs=2000] [fractions=0.3,0.4,...]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import type { BlobStore, PutOptions } from '../src/blobstore/blob-store.js';
import { lookupBlobStore, registerBlobStore } from '../src/blobstore/registry.js';
import { LeaseWatch } from '../src/execute/lease-watch.js';
import { tryAcquireLease } from '../src/execute/lease.js';

const ttlMs = Number(process.argv[2] ?? 2000);
const fractions = (process.argv[3] ?? '0.3,0.4,0.5,0.6,0.65,0.7,0.75,0.8,0.9').split(',').map(Number);

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
process.on('warning', () => undefined); // the slow-refresh warning is expected here

async function survives(fraction: number, steady: boolean): Promise<boolean> {
  const dir = mkdtempSync(path.join(tmpdir(), 'memocall-bench-'));
  const uri = pathToFileURL(dir).href;
  const holderUri = `${uri.replace(/^file:/, 'slowlease:')}/lease`;
  if (steady) slow.delayMs = fraction * ttlMs;
  const got = await tryAcquireLease(lookupBlobStore(holderUri), holderUri, 'holder', { ttlMs });
  if (!got.acquired) throw new Error('no lease');
  slow.delayMs = fraction * ttlMs;
  const watch = new LeaseWatch(ttlMs);
  const until = Date.now() + 4 * ttlMs;
  try {
    while (Date.now() < until) {
      const attempt = await tryAcquireLease(lookupBlobStore(`${uri}/lease`), `${uri}/lease`, 'waiter', {
        ttlMs,
        watch,
      });
      if (attempt.acquired) return false;
      await sleep(50);
    }
    return true;
  } finally {
    slow.delayMs = 0;
    await got.lease.release();
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const steady of [true, false]) {
  for (const fraction of fractions) {
    const kept = await survives(fraction, steady);
    console.log(
      `${steady ? 'steady' : 'sudden'}: TTL ${ttlMs} ms, lease writes delayed ${fraction} × TTL: ${kept ? 'kept' : 'TAKEN OVER'}`,
    );
  }
}
