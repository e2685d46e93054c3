// A queue job's attempt takes its caller's lease over by compare-and-swap: forward only (a later
// attempt from an earlier one), never from another writer, never back; the caller keeps holding.
import { expect, test } from 'vitest';
import { lookupBlobStore } from '../../../src/index.js';
import { adoptLease, readLease, tryAcquireLease } from '../../../src/execute/lease.js';
import { memoFile } from '../../../src/protocol/memo-uri.js';
import { claimLeaseForAttempt } from '../../../src/shims/queue/attempt-lease.js';
import { useTempDir } from '../../support/temp-dir.js';

const tempDir = useTempDir();

async function callerLease(writerId: string) {
  const memoUri = `${tempDir().uri}/fn/key`;
  const store = lookupBlobStore(memoUri);
  const attempt = await tryAcquireLease(store, memoFile.lease(memoUri), writerId, { ttlMs: 60_000 });
  if (!attempt.acquired) throw new Error('not acquired');
  const holder = async () => (await readLease(store, memoFile.lease(memoUri)))!.record;
  return { memoUri, lease: attempt.lease, holder };
}

test("attempts take the caller's lease over in order; an earlier attempt cannot take it back; the caller still holds it", async () => {
  const { memoUri, lease, holder } = await callerLease('W');
  try {
    expect(await claimLeaseForAttempt(memoUri, 'W', 1)).toBe('W#a1');
    expect((await holder()).writerId).toBe('W#a1');
    expect(await claimLeaseForAttempt(memoUri, 'W', 3)).toBe('W#a3');
    // Attempt 2 comes late: it gets its id, but the lease stays attempt 3's (its run is fenced out).
    expect(await claimLeaseForAttempt(memoUri, 'W', 2)).toBe('W#a2');
    expect((await holder()).writerId).toBe('W#a3');
    // The caller's heartbeat goes on over the attempt's record, and its fence still passes.
    await lease.refresh();
    expect((await holder()).writerId).toBe('W#a3');
    expect(await lease.stillHeld()).toBe(true);
  } finally {
    await lease.release();
  }
  expect((await holder()).releasedAt).toBeDefined();
  // Released: a new attempt takes nothing over.
  expect(await claimLeaseForAttempt(memoUri, 'W', 4)).toBe('W#a4');
  expect((await holder()).writerId).toBe('W#a3');
});

test("another writer's lease is left alone", async () => {
  const { memoUri, lease, holder } = await callerLease('V');
  try {
    expect(await claimLeaseForAttempt(memoUri, 'W', 1)).toBe('W#a1');
    expect((await holder()).writerId).toBe('V');
  } finally {
    await lease.release();
  }
});

test("the first run, under the caller's plain writer id, is fenced out once a re-run takes the lease over; the caller is not", async () => {
  const { memoUri, lease } = await callerLease('W');
  const store = lookupBlobStore(memoUri);
  const firstRun = await adoptLease(store, memoFile.lease(memoUri), 'W');
  try {
    expect(await firstRun.stillHeld()).toBe(true);
    expect(await claimLeaseForAttempt(memoUri, 'W', 2)).toBe('W#a2');
    expect(await firstRun.stillHeld()).toBe(false);
    await expect(firstRun.verify()).rejects.toMatchObject({ code: 'MEMOCALL_LEASE_LOST' });
    const secondRun = await adoptLease(store, memoFile.lease(memoUri), 'W#a2');
    await secondRun.verify();
    await secondRun.release();
    expect(await lease.stillHeld()).toBe(true);
  } finally {
    await firstRun.release();
    await lease.release();
  }
});
