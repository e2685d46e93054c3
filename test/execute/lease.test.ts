// The lease protocol itself (execute/lease.ts): when a lease counts as free, who wins a takeover,
// how often it is refreshed by default, and when `verify()` must read the stored lease.
import { afterEach, describe, expect, test, vi } from 'vitest';
import { LeaseLostError, lookupBlobStore } from '../../src/index.js';
import type { BlobStore } from '../../src/index.js';
import { isLeaseFree, readLease, tryAcquireLease, type HeldLease, type LeaseRecord } from '../../src/execute/lease.js';
import { useTempDir } from '../support/temp-dir.js';

const tempDir = useTempDir();
const text = new TextEncoder();
let leaseNumber = 0;
const held: HeldLease[] = [];

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(held.splice(0).map((lease) => lease.release()));
});

/** A lease URI of its own in a memory store, or under a fresh file:// root. */
function freshLease(kind: 'memory' | 'file' = 'memory'): { store: BlobStore; uri: string } {
  const root = kind === 'memory' ? `memory://lease-test-${process.pid}-${leaseNumber++}` : tempDir().uri;
  return { store: lookupBlobStore(root), uri: `${root}/fn/key/lease` };
}

/** Writes a lease record as another holder (another process) would have. */
async function writeRecord(store: BlobStore, uri: string, fields: Partial<LeaseRecord>): Promise<void> {
  const now = Date.now();
  const record: LeaseRecord = {
    writerId: 'elsewhere',
    generation: 1,
    heartbeatAt: now,
    ttlMs: 1_000,
    acquiredAt: now,
    hostname: 'another-host',
    pid: 1,
    ...fields,
  };
  await store.put(uri, text.encode(JSON.stringify(record)));
}

async function acquire(store: BlobStore, uri: string, writerId: string, ttlMs: number, refreshMs?: number) {
  const attempt = await tryAcquireLease(store, uri, writerId, { ttlMs, refreshMs });
  if (!attempt.acquired) throw new Error(`${writerId} did not get the lease`);
  held.push(attempt.lease);
  return attempt.lease;
}

/** Lets pending store I/O settle (fake timers leave setImmediate real). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('expiry', () => {
  test('a lease refreshed within its TTL is held, however long ago it was acquired', async () => {
    const now = Date.now();
    const longHeld = { writerId: 'w', generation: 3, ttlMs: 1_000, hostname: 'h', pid: 1, acquiredAt: now - 60_000 };
    expect(isLeaseFree({ ...longHeld, heartbeatAt: now - 500 }, now)).toBe(false);
    expect(isLeaseFree({ ...longHeld, heartbeatAt: now - 1_001 }, now)).toBe(true);

    const { store, uri } = freshLease();
    await writeRecord(store, uri, { acquiredAt: now - 60_000, heartbeatAt: now, ttlMs: 10_000 });
    const attempt = await tryAcquireLease(store, uri, 'second-caller', { ttlMs: 10_000 });
    if (attempt.acquired) held.push(attempt.lease);
    expect(attempt.acquired).toBe(false);
    expect(attempt.acquired ? undefined : attempt.holder.writerId).toBe('elsewhere');
  });
});

describe('takeover', () => {
  test.each(['memory', 'file'] as const)(
    '%s store: 12 contenders racing for an expired lease, exactly one wins',
    async (kind) => {
      const { store, uri } = freshLease(kind);
      const long = Date.now() - 60_000;
      await writeRecord(store, uri, { generation: 4, acquiredAt: long, heartbeatAt: long, ttlMs: 1_000 });
      const outcomes = await Promise.all(
        Array.from({ length: 12 }, (_, i) => tryAcquireLease(store, uri, `contender-${i}`, { ttlMs: 60_000 })),
      );
      const winners = outcomes.flatMap((o) => (o.acquired ? [o.lease] : []));
      held.push(...winners);
      expect(winners).toHaveLength(1);
      const stored = (await readLease(store, uri))!.record;
      expect(stored.writerId).toBe(winners[0]!.writerId);
      expect(stored.generation).toBe(5);
      for (const o of outcomes) if (!o.acquired) expect(o.holder.writerId).toBe(winners[0]!.writerId);
    },
  );
});

describe('maintenance on a controlled clock', () => {
  test('by default a lease is refreshed every half TTL', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { store, uri } = freshLease();
    await acquire(store, uri, 'holder', 10_000); // no refreshMs: the default applies
    const first = (await readLease(store, uri))!.record;
    await vi.advanceTimersByTimeAsync(4_990);
    await settle();
    expect((await readLease(store, uri))!.record.heartbeatAt).toBe(first.heartbeatAt);
    await vi.advanceTimersByTimeAsync(20);
    await settle();
    const refreshed = (await readLease(store, uri))!.record;
    expect(refreshed.heartbeatAt - first.heartbeatAt).toBe(5_000);
    expect(refreshed.writerId).toBe('holder');
  });

  test('a holder whose refreshes stalled past its TTL and was taken over fails verify()', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { store, uri } = freshLease();
    const holder = await acquire(store, uri, 'holder', 1_000);
    await holder.verify();
    // The holder's event loop stalls (no timer runs, so no refresh) while the clock goes on.
    vi.setSystemTime(Date.now() + 1_050);
    const taker = await acquire(store, uri, 'taker', 1_000);
    expect(taker.generation).toBe(holder.generation + 1);
    await expect(holder.verify()).rejects.toBeInstanceOf(LeaseLostError);
    expect(holder.isLost).toBe(true);
    expect((await readLease(store, uri))!.record.writerId).toBe('taker');
  });
});
