/**
 * Issue 18, finding 2 (second half): a function that keeps the calling process's main thread
 * busy must not starve its lease's heartbeats. The heartbeat thread refreshes file:// leases.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, test } from 'vitest';
import { lookupBlobStore } from '../../src/blobstore/registry.js';
import { isLeaseFree, readLease } from '../../src/execute/lease.js';
import { LeaseWatch } from '../../src/execute/lease-watch.js';
import { finished, spawnTs, waitForLine } from '../support/child.js';
import { useTempDir } from '../support/temp-dir.js';

const tempDir = useTempDir();
const TTL = 4_000;

async function leaseUriUnder(root: string): Promise<string> {
  for await (const uri of lookupBlobStore(root).list(root)) if (uri.endsWith('/lease')) return uri;
  throw new Error('no lease written');
}

test('a samethread function busy for 10 s on the main thread keeps a 4 s lease: nobody takes it over', async () => {
  const { uri } = tempDir();
  const holder = spawnTs('test/fixtures/busy-holder.ts', [uri, String(TTL), '10000']);
  const done = finished(holder);
  await waitForLine(holder, 'computing');
  const leaseUri = await leaseUriUnder(uri);
  const store = lookupBlobStore(leaseUri);
  // Judged as a waiting caller judges it (its times, and its version's age on our clock), without
  // taking it: the holder's own release at the end must not count.
  const watch = new LeaseWatch(TTL);
  let takeableAt: number | undefined;
  for (;;) {
    const { record, etag } = (await readLease(store, leaseUri))!;
    if (record.releasedAt !== undefined) break;
    if (isLeaseFree(record) || watch.exhausted(etag)) {
      takeableAt = Date.now() - record.heartbeatAt;
      break;
    }
    await sleep(100);
  }
  const ended = await done;
  expect(takeableAt, `the lease became takeable, its heartbeat ${takeableAt} ms old`).toBeUndefined();
  expect(ended.code, ended.stderr).toBe(0);
  expect(ended.stdout).toMatch(/result done by \d+ after spinning/);
  const { record } = (await readLease(store, leaseUri))!;
  expect(record.generation).toBe(1); // never changed hands
  expect(record.releasedAt).toBeDefined();
}, 60_000);
