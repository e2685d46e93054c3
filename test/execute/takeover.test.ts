import { expect, test } from 'vitest';
import { finished, spawnTs, waitForLine } from '../support/child.js';
import { useTempDir } from '../support/temp-dir.js';
import { lookupBlobStore } from '../../src/index.js';
import { readLease } from '../../src/execute/lease.js';

const tempDir = useTempDir();

async function leaseOf(root: string) {
  const store = lookupBlobStore(root);
  for await (const uri of store.list(root)) if (uri.endsWith('/lease')) return (await readLease(store, uri))!.record;
  throw new Error('no lease written');
}

test('a holder killed with SIGKILL mid-call is taken over after its lease expires', async () => {
  const { uri } = tempDir();
  const holder = spawnTs('test/fixtures/takeover-worker.ts', [uri, 'hang', '1500']);
  const holderDone = finished(holder);
  await waitForLine(holder, 'computing');
  holder.kill('SIGKILL');
  await holderDone;
  const before = await leaseOf(uri);
  expect(before.releasedAt).toBeUndefined(); // SIGKILL left no chance to release

  const started = Date.now();
  const taker = await finished(spawnTs('test/fixtures/takeover-worker.ts', [uri, 'compute', '1500']));
  expect(taker.code, taker.stderr).toBe(0);
  expect(taker.stdout).toMatch(/computing \d+/);
  expect(taker.stdout).toMatch(/result done by \d+ with 7/);
  const after = await leaseOf(uri);
  expect(after.generation).toBe(before.generation + 1);
  expect(after.releasedAt).toBeDefined();
  // It waited for the expiry, not much longer (1.5 s TTL, polls every ≤ 300 ms).
  expect(Date.now() - started).toBeLessThan(45_000);
}, 60_000);

test('a holder stopped with SIGTERM releases its lease, so the next caller need not wait for expiry', async () => {
  const { uri } = tempDir();
  const holder = spawnTs('test/fixtures/takeover-worker.ts', [uri, 'hang', '600000']);
  const holderDone = finished(holder);
  await waitForLine(holder, 'computing');
  holder.kill('SIGTERM');
  const ended = await holderDone;
  expect(ended.signal).toBe('SIGTERM'); // the signal still ends the process as it would have
  expect((await leaseOf(uri)).releasedAt).toBeDefined();

  const taker = await finished(spawnTs('test/fixtures/takeover-worker.ts', [uri, 'compute', '600000']));
  expect(taker.code, taker.stderr).toBe(0);
  expect(taker.stdout).toMatch(/result done by \d+ with 7/);
}, 60_000);
