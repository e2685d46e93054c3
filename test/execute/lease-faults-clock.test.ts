/**
 * Issue 18, finding 5: the clock rule of docs/remote-execution.md ("Leases under faults"), with a
 * holder whose clock is skewed by libfaketime. With TTL 6 s and refresh 2 s, a live holder keeps
 * its lease while its clock lags by less than TTL − refresh (4 s) and loses it beyond that; a
 * crashed holder whose clock runs ahead is taken over only TTL + skew after its last heartbeat.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, test } from 'vitest';
import { lookupBlobStore } from '../../src/blobstore/registry.js';
import { readLease, tryAcquireLease } from '../../src/execute/lease.js';
import { LeaseWatch } from '../../src/execute/lease-watch.js';
import { finished, projectRoot, tsxLoader, waitForLine } from '../support/child.js';
import { useTempDir } from '../support/temp-dir.js';

const tempDir = useTempDir();
const TTL = 6_000;
const REFRESH = 2_000;

/**
 * libfaketime (Debian's `faketime` package), preloaded into the child itself: the `faketime`
 * command runs its program as a child of its own, which a SIGKILL to the command would orphan.
 */
const libfaketime = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib']
  .map((dir) => path.join(dir, 'faketime/libfaketime.so.1'))
  .find((file) => existsSync(file));

/** The lease-holder fixture with its wall clock shifted by `offset` (libfaketime syntax: `-5s`). */
function skewedHolder(offset: string, leaseUri: string): ChildProcess {
  const fixture = path.join(projectRoot, 'test/fixtures/lease-holder.ts');
  return spawn(process.execPath, ['--import', tsxLoader, fixture, leaseUri, String(TTL), String(REFRESH)], {
    cwd: projectRoot,
    // Only the wall clock is skewed, as between machines; each keeps its own monotonic clock.
    env: { ...process.env, LD_PRELOAD: libfaketime!, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Polls for the lease as a caller with the same TTL would; ms until it got it, or undefined. */
async function takeOverWithin(leaseUri: string, budgetMs: number): Promise<number | undefined> {
  const store = lookupBlobStore(leaseUri);
  const watch = new LeaseWatch(TTL);
  const started = performance.now();
  while (performance.now() - started < budgetMs) {
    const attempt = await tryAcquireLease(store, leaseUri, 'waiter', { ttlMs: TTL, watch });
    if (attempt.acquired) {
      await attempt.lease.release();
      return performance.now() - started;
    }
    await sleep(100);
  }
  return undefined;
}

async function holding(
  offset: string,
): Promise<{ holder: ChildProcess; done: ReturnType<typeof finished>; leaseUri: string }> {
  const leaseUri = `${tempDir().uri}/lease`;
  const holder = skewedHolder(offset, leaseUri);
  const done = finished(holder);
  await waitForLine(holder, 'held 1');
  return { holder, done, leaseUri };
}

test('libfaketime is installed (Debian package faketime)', () => {
  expect(libfaketime).toBeDefined();
});

test('a live holder whose clock lags by less than TTL − refresh keeps its lease', async () => {
  const { holder, done, leaseUri } = await holding('-2s');
  try {
    expect(await takeOverWithin(leaseUri, 2 * TTL)).toBeUndefined();
  } finally {
    holder.kill('SIGKILL');
    await done;
  }
  expect((await done).stdout).not.toContain('lost');
}, 60_000);

test('a live holder whose clock lags by more than TTL − refresh loses its lease, and notices at its next refresh', async () => {
  const { holder, done, leaseUri } = await holding('-5s');
  try {
    expect(await takeOverWithin(leaseUri, 2 * TTL)).toBeDefined();
    await waitForLine(holder, 'lost');
  } finally {
    holder.kill('SIGKILL');
    await done;
  }
}, 60_000);

test('a crashed holder whose clock runs ahead is taken over TTL + skew after its last heartbeat', async () => {
  const { holder, done, leaseUri } = await holding('+3s');
  holder.kill('SIGKILL');
  await done;
  const { record } = (await readLease(lookupBlobStore(leaseUri), leaseUri))!;
  const aheadMs = record.heartbeatAt - Date.now(); // about 3 s: the skew, less the time since it was written
  const tookMs = await takeOverWithin(leaseUri, 4 * TTL);
  expect(tookMs).toBeDefined();
  // Not before the stored heartbeat is a TTL old by this clock (TTL + skew after it was written).
  expect(tookMs!).toBeGreaterThanOrEqual(TTL + aheadMs - 200);
  expect(aheadMs).toBeGreaterThan(REFRESH / 2);
}, 60_000);
