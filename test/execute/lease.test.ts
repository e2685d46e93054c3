// The lease protocol itself (execute/lease.ts): when a lease counts as free, who wins a takeover,
// how often it is refreshed by default, and when `verify()` must read the stored lease.
import { afterEach, describe, expect, test, vi } from 'vitest';
import { hostname } from 'node:os';
import { LeaseLostError, lookupBlobStore } from '../../src/index.js';
import type { BlobStore } from '../../src/index.js';
import {
  adoptLease,
  heldLeaseOf,
  isLeaseFree,
  readLease,
  tryAcquireLease,
  type HeldLease,
  type LeaseRecord,
} from '../../src/execute/lease.js';
import { ObservedStore, type StoreObserver } from '../support/observed-store.js';
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
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
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
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
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

let schemeNumber = 0;
/** A memory store seen through a test scheme of its own, and a lease URI in it. */
function observedLease(observer: StoreObserver = {}) {
  const { store, root } = ObservedStore.register(
    `leasewatch${schemeNumber++}`,
    `memory://observed-${process.pid}-${leaseNumber++}`,
    observer,
  );
  return { store, uri: `${root}/fn/key/lease` };
}
const leaseReads = (store: ObservedStore) => store.readsOf('/lease');
const decoded = (data: Uint8Array) => JSON.parse(new TextDecoder().decode(data)) as LeaseRecord;
const transientError = () => Object.assign(new Error('connection reset by peer'), { code: 'ECONNRESET' });

/** Writes a takeover by `writerId` over whatever is stored, as a caller finding it expired would. */
async function takeOverAs(store: BlobStore, uri: string, writerId: string): Promise<void> {
  const current = (await readLease(store, uri))!;
  const now = Date.now();
  const record = {
    ...current.record,
    writerId,
    generation: current.record.generation + 1,
    heartbeatAt: now,
    acquiredAt: now,
  };
  delete record.releasedAt;
  await store.put(uri, text.encode(JSON.stringify(record)), { ifMatch: current.etag });
}

describe('records', () => {
  test('a new lease: generation 1, heartbeat at acquisition, this host and process, the TTL asked for', async () => {
    const { store, uri } = freshLease();
    const before = Date.now();
    const lease = await acquire(store, uri, 'first', 7_000);
    const { record } = (await readLease(store, uri))!;
    expect(record).toEqual({
      writerId: 'first',
      generation: 1,
      heartbeatAt: record.acquiredAt,
      ttlMs: 7_000,
      acquiredAt: record.acquiredAt,
      hostname: hostname(),
      pid: process.pid,
    });
    expect(record.acquiredAt).toBeGreaterThanOrEqual(before);
    expect(lease.generation).toBe(1);
    expect(lease.writerId).toBe('first');
    expect(lease.uri).toBe(uri);
  });

  test('a lease is free once released, or strictly after heartbeat + TTL', () => {
    const base = { writerId: 'w', generation: 1, ttlMs: 1_000, hostname: 'h', pid: 1, acquiredAt: 0 };
    expect(isLeaseFree({ ...base, heartbeatAt: 5_000 }, 6_000)).toBe(false); // exactly at the TTL
    expect(isLeaseFree({ ...base, heartbeatAt: 5_000 }, 6_001)).toBe(true);
    expect(isLeaseFree({ ...base, heartbeatAt: 5_000, releasedAt: 5_001 }, 5_002)).toBe(true);
  });

  test('release marks the record released and keeps writer and generation; the next caller takes it at once', async () => {
    const { store, uri } = observedLease();
    const lease = await acquire(store, uri, 'first', 60_000);
    expect(heldLeaseOf('first')).toBe(lease);
    await lease.release();
    expect(heldLeaseOf('first')).toBeUndefined();
    const { record } = (await readLease(store, uri))!;
    expect(record.writerId).toBe('first');
    expect(record.generation).toBe(1);
    expect(record.releasedAt).toBeGreaterThanOrEqual(record.heartbeatAt);
    const writes = store.writes.length;
    await lease.release(); // a second release writes nothing
    expect(store.writes.length).toBe(writes);

    const next = await acquire(store, uri, 'second', 60_000);
    expect(next.generation).toBe(2);
    const taken = (await readLease(store, uri))!.record;
    expect(taken.writerId).toBe('second');
    expect(taken.releasedAt).toBeUndefined();
  });
});

describe('readLease', () => {
  test('is null when there is no lease', async () => {
    const { store, uri } = freshLease();
    expect(await readLease(store, uri)).toBeNull();
  });

  test('on a store without getVersioned: head, get, head again, until both heads agree', async () => {
    const { store: memory, uri: memoryUri } = freshLease();
    let rewriteOnGet: (() => Promise<unknown>) | undefined;
    const plain: BlobStore = {
      get: async (u) => {
        const data = await memory.get(u);
        const rewrite = rewriteOnGet;
        rewriteOnGet = undefined;
        await rewrite?.(); // another writer, between our get and our second head
        return data;
      },
      put: (u, d, o) => memory.put(u, d, o),
      head: (u) => memory.head(u),
      list: (p) => memory.list(p),
      delete: (u) => memory.delete(u),
      getFile: (u, l) => memory.getFile(u, l),
      putFile: (l, u, o) => memory.putFile(l, u, o),
    };
    expect(await readLease(plain, memoryUri)).toBeNull();
    await writeRecord(memory, memoryUri, { writerId: 'old' });
    rewriteOnGet = () => writeRecord(memory, memoryUri, { writerId: 'new' });
    const read = (await readLease(plain, memoryUri))!;
    expect(read.record.writerId).toBe('new');
    expect(read.etag).toBe((await memory.head(memoryUri))!.etag);
  });
});

describe('verify, refresh and loss', () => {
  test('verify reads nothing within half a TTL of the last write, and reads from then on', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    const { store, uri } = observedLease();
    const lease = await acquire(store, uri, 'holder', 1_000, 60_000); // no refresh in this test
    const start = Date.now();
    await lease.verify();
    vi.setSystemTime(start + 499);
    await lease.verify();
    expect(leaseReads(store)).toBe(0);
    vi.setSystemTime(start + 500);
    await lease.verify();
    expect(leaseReads(store)).toBe(1);
    expect(await lease.stillHeld()).toBe(true); // always reads
    expect(leaseReads(store)).toBe(2);
  });

  test('after a takeover, refresh throws LeaseLostError, aborts lostSignal and leaves the new record alone', async () => {
    const { store, uri } = observedLease();
    const lease = await acquire(store, uri, 'holder', 60_000, 60_000);
    const signal = lease.lostSignal;
    await takeOverAs(store, uri, 'taker');
    const error = await lease.refresh().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LeaseLostError);
    expect((error as Error).message).toMatch(/taken over by taker/);
    expect(lease.isLost).toBe(true);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(LeaseLostError);
    expect(heldLeaseOf('holder')).toBeUndefined();
    const reads = leaseReads(store);
    expect(await lease.stillHeld()).toBe(false); // known lost: no read needed
    await expect(lease.verify()).rejects.toThrow(/taken over/);
    expect(leaseReads(store)).toBe(reads);
    const { record } = (await readLease(store, uri))!;
    expect(record.writerId).toBe('taker');
    await lease.release(); // a lost lease is not released: the taker's record stays
    expect((await readLease(store, uri))!.record.releasedAt).toBeUndefined();
  });

  test('verify names what it found: another writer, a released lease, no lease', async () => {
    const cases: Array<[string, (store: BlobStore, uri: string) => Promise<void>, RegExp]> = [
      ['taken', (store, uri) => takeOverAs(store, uri, 'other'), /now held by other/],
      ['vanished', (store, uri) => store.delete(uri), /the lease vanished/],
    ];
    for (const [, change, message] of cases) {
      const { store, uri } = freshLease();
      await acquire(store, uri, 'caller', 60_000, 60_000);
      const adopted = await adoptLease(store, uri, 'caller'); // adopted: verify always reads
      held.push(adopted);
      await change(store, uri);
      await expect(adopted.verify()).rejects.toThrow(message);
      expect(adopted.isLost).toBe(true);
      await expect(adopted.verify()).rejects.toThrow(/taken over/); // known lost: no read needed
    }
    const { store, uri } = freshLease();
    const caller = await acquire(store, uri, 'caller', 60_000, 60_000);
    const adopted = await adoptLease(store, uri, 'caller');
    await caller.release();
    await expect(adopted.verify()).rejects.toThrow(/it was released/);
  });

  test('a refresh after a vanished or released lease fails with the reason', async () => {
    const { store, uri } = freshLease();
    const lease = await acquire(store, uri, 'holder', 60_000, 60_000);
    await store.delete(uri);
    await expect(lease.refresh()).rejects.toThrow(/the lease vanished/);

    const second = freshLease();
    const caller = await acquire(second.store, second.uri, 'caller', 60_000, 60_000);
    const adopted = await adoptLease(second.store, second.uri, 'caller');
    await caller.release();
    await expect(adopted.refresh()).rejects.toThrow(/it was released/);
  });

  test("a cooperating peer's write (same writer id) is adopted, not taken for a loss", async () => {
    const { store, uri } = freshLease();
    const caller = await acquire(store, uri, 'shared', 60_000, 60_000);
    const remote = await adoptLease(store, uri, 'shared');
    held.push(remote);
    await remote.refresh(); // the caller's etag is stale now
    await caller.refresh();
    expect(caller.isLost).toBe(false);
    expect(await caller.stillHeld()).toBe(true);
    await remote.refresh();
    await caller.verify();
    // The adopter only stops maintaining: the caller releases.
    await remote.release();
    expect((await readLease(store, uri))!.record.releasedAt).toBeUndefined();
    await caller.release();
    expect((await readLease(store, uri))!.record.releasedAt).toBeDefined();
  });

  test('adopting fails when there is no lease, another writer holds it, or it was released', async () => {
    const { store, uri } = freshLease();
    await expect(adoptLease(store, uri, 'me')).rejects.toThrow(/there is no lease/);
    const lease = await acquire(store, uri, 'me', 60_000, 60_000);
    await expect(adoptLease(store, uri, 'impostor')).rejects.toThrow(/held by writer me \(generation 1\)/);
    await lease.release();
    await expect(adoptLease(store, uri, 'me')).rejects.toThrow(/it was released/);
  });
});

describe('maintenance against transient store failures (controlled clock)', () => {
  test('a failed refresh is retried after a fifth of the refresh period; then the period resumes', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    let failures = 0;
    const { store, uri } = observedLease({
      beforePut: (_u, _d, opts) => {
        if (opts?.ifMatch !== undefined && failures > 0) {
          failures--;
          throw transientError();
        }
      },
    });
    await acquire(store, uri, 'holder', 1_000, 500);
    const start = Date.now();
    const heartbeat = async () => (await readLease(store, uri))!.record.heartbeatAt - start;
    failures = 1;
    await vi.advanceTimersByTimeAsync(500); // refresh fails
    await settle();
    expect(await heartbeat()).toBe(0);
    await vi.advanceTimersByTimeAsync(99);
    await settle();
    expect(await heartbeat()).toBe(0);
    await vi.advanceTimersByTimeAsync(1); // 500 + 500/5
    await settle();
    expect(await heartbeat()).toBe(600);
    await vi.advanceTimersByTimeAsync(499);
    await settle();
    expect(await heartbeat()).toBe(600);
    await vi.advanceTimersByTimeAsync(1);
    await settle();
    expect(await heartbeat()).toBe(1_100);
  });

  test('refresh periods are at least 10 ms, so are retries', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    let failures = 0;
    const { store, uri } = observedLease({
      beforePut: (_u, _d, opts) => {
        if (opts?.ifMatch !== undefined && failures > 0) {
          failures--;
          throw transientError();
        }
      },
    });
    await acquire(store, uri, 'holder', 1_000, 1);
    const start = Date.now();
    const heartbeat = async () => (await readLease(store, uri))!.record.heartbeatAt - start;
    await vi.advanceTimersByTimeAsync(9);
    await settle();
    expect(await heartbeat()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    await settle();
    expect(await heartbeat()).toBe(10);
    failures = 1;
    await vi.advanceTimersByTimeAsync(10); // fails; retried 10 ms later, not 2
    await settle();
    await vi.advanceTimersByTimeAsync(9);
    await settle();
    expect(await heartbeat()).toBe(10);
    await vi.advanceTimersByTimeAsync(1);
    await settle();
    expect(await heartbeat()).toBe(30);
  });

  test('a release that fails transiently is retried (4 attempts in all), then given up', async () => {
    let failures = 2;
    const isRelease = (data: Uint8Array) => decoded(data).releasedAt !== undefined;
    const { store, uri } = observedLease({
      beforePut: (_u, data) => {
        if (isRelease(data) && failures > 0) {
          failures--;
          throw transientError();
        }
      },
    });
    const lease = await acquire(store, uri, 'holder', 60_000, 60_000);
    await lease.release();
    expect(failures).toBe(0);
    expect((await readLease(store, uri))!.record.releasedAt).toBeDefined();

    failures = 10;
    const second = observedLease({
      beforePut: (_u, data) => {
        if (isRelease(data) && failures > 0) {
          failures--;
          throw transientError();
        }
      },
    });
    const stuck = await acquire(second.store, second.uri, 'holder2', 60_000, 60_000);
    await stuck.release(); // never throws
    expect(10 - failures).toBe(4);
    expect((await readLease(second.store, second.uri))!.record.releasedAt).toBeUndefined();
  }, 30_000);

  test('a write error other than a refused condition is thrown by refresh, not taken for a loss', async () => {
    let failures = 0;
    const { store, uri } = observedLease({
      beforePut: () => {
        if (failures > 0) {
          failures--;
          throw transientError();
        }
      },
    });
    const lease = await acquire(store, uri, 'holder', 60_000, 60_000);
    failures = 1;
    await expect(lease.refresh()).rejects.toThrow(/connection reset/);
    expect(lease.isLost).toBe(false);
    await lease.refresh();
    expect(await lease.stillHeld()).toBe(true);
  });

  test('tryAcquireLease throws a store error that is not a refused condition', async () => {
    const { store, uri } = observedLease({
      beforePut: () => {
        throw transientError();
      },
    });
    await expect(tryAcquireLease(store, uri, 'w', { ttlMs: 1_000 })).rejects.toThrow(/connection reset/);
  });
});

describe('the remaining edges', () => {
  test('readLease passes on a store error that is not "not found"', async () => {
    const { store, uri } = observedLease({
      onRead: () => {
        throw transientError();
      },
    });
    await expect(readLease(store, uri)).rejects.toThrow(/connection reset/);
  });

  test("an adopted lease is refreshed every half of the record's TTL", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    const { store, uri } = observedLease();
    await acquire(store, uri, 'shared', 1_000, 60_000);
    const remote = await adoptLease(store, uri, 'shared');
    held.push(remote);
    const writes = store.writes.length;
    await vi.advanceTimersByTimeAsync(499);
    await settle();
    expect(store.writes.length).toBe(writes);
    await vi.advanceTimersByTimeAsync(1);
    await settle();
    expect(store.writes.length).toBe(writes + 1);
  });

  test('heldLeaseOf finds only the lease of that writer', async () => {
    const { store, uri } = freshLease();
    await acquire(store, uri, 'one-writer', 60_000);
    expect(heldLeaseOf('another-writer')).toBeUndefined();
    expect(heldLeaseOf('one-writer')?.writerId).toBe('one-writer');
  });

  test('after its own release a lease no longer verifies, even within half a TTL', async () => {
    const { store, uri } = freshLease();
    const lease = await acquire(store, uri, 'holder', 60_000);
    await lease.verify();
    await lease.release();
    await expect(lease.verify()).rejects.toThrow(/it was released/);
  });

  test('stillHeld reads: false once taken over, released by the acquirer, or gone, before any loss was noticed', async () => {
    const taken = freshLease();
    const a = await acquire(taken.store, taken.uri, 'a', 60_000, 60_000);
    expect(await a.stillHeld()).toBe(true);
    await takeOverAs(taken.store, taken.uri, 'b');
    expect(await a.stillHeld()).toBe(false);

    const released = freshLease();
    const caller = await acquire(released.store, released.uri, 'c', 60_000, 60_000);
    const remote = await adoptLease(released.store, released.uri, 'c');
    held.push(remote);
    await caller.release();
    expect(await remote.stillHeld()).toBe(false);

    const gone = freshLease();
    const d = await acquire(gone.store, gone.uri, 'd', 60_000, 60_000);
    await gone.store.delete(gone.uri);
    expect(await d.stillHeld()).toBe(false);
  });

  test("a refresh renews verify's read-free window", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    const { store, uri } = observedLease();
    const lease = await acquire(store, uri, 'holder', 1_000, 400);
    const start = Date.now();
    await vi.advanceTimersByTimeAsync(400); // refreshed at start + 400
    await settle();
    expect((await readLease(store, uri))!.record.heartbeatAt).toBe(start + 400);
    const reads = leaseReads(store);
    vi.setSystemTime(start + 850); // within half a TTL of the refresh, not of the acquisition
    await lease.verify();
    expect(leaseReads(store)).toBe(reads);
  });

  test('a lease released while a refresh is in flight is never refreshed again', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    let gate: Promise<void> | undefined;
    let open!: () => void;
    const { store, uri } = observedLease({ beforePut: () => gate });
    const lease = await acquire(store, uri, 'holder', 1_000, 100);
    gate = new Promise((resolve) => (open = resolve));
    await vi.advanceTimersByTimeAsync(100); // the refresh starts and waits at the gate
    const released = lease.release();
    gate = undefined;
    open();
    await settle();
    await released;
    const writes = store.writes.length;
    await vi.advanceTimersByTimeAsync(1_000);
    await settle();
    expect(store.writes.length).toBe(writes);
    expect((await readLease(store, uri))!.record.releasedAt).toBeDefined();
  });

  test('release cancels the pending refresh: nothing is written after it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    const { store, uri } = observedLease();
    const lease = await acquire(store, uri, 'holder', 1_000, 100);
    await lease.release();
    const writes = store.writes.length;
    await vi.advanceTimersByTimeAsync(1_000);
    await settle();
    expect(store.writes.length).toBe(writes);
  });

  test('a release that finds the lease taken over gives up at once: one refused write, no retries', async () => {
    const { store, uri } = observedLease();
    const lease = await acquire(store, uri, 'holder', 60_000, 60_000);
    await takeOverAs(store, uri, 'taker');
    const writes = store.writes.length;
    await lease.release();
    expect(store.writes.length - writes).toBe(1);
    expect((await readLease(store, uri))!.record.writerId).toBe('taker');
  });

  test('release retries back off: 200 ms, then 400 ms', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    let failures = 2;
    const { store, uri } = observedLease({
      beforePut: (_u, data) => {
        if (decoded(data).releasedAt !== undefined && failures > 0) {
          failures--;
          throw transientError();
        }
      },
    });
    const lease = await acquire(store, uri, 'holder', 60_000, 60_000);
    const releaseWrites = () => store.writes.filter((w) => decoded(w.data).releasedAt !== undefined).length;
    let done = false;
    const released = lease.release().then(() => (done = true));
    await settle();
    expect(releaseWrites()).toBe(1);
    await vi.advanceTimersByTimeAsync(199);
    await settle();
    expect(releaseWrites()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await settle();
    expect(releaseWrites()).toBe(2);
    await vi.advanceTimersByTimeAsync(399);
    await settle();
    expect(releaseWrites()).toBe(2);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await settle();
    await released;
    expect(releaseWrites()).toBe(3);
    expect((await readLease(store, uri))!.record.releasedAt).toBeDefined();
  });

  test('on SIGHUP (or SIGINT, SIGTERM) every held lease is released', async () => {
    const { store, uri } = freshLease();
    await acquire(store, uri, 'holder', 60_000, 60_000);
    // A listener of our own, so that the signal is not raised again to end this test process.
    const keepAlive = () => undefined;
    process.on('SIGHUP', keepAlive);
    try {
      process.emit('SIGHUP', 'SIGHUP');
      await vi.waitFor(async () => expect((await readLease(store, uri))!.record.releasedAt).toBeDefined(), {
        timeout: 10_000,
        interval: 5,
      });
      expect(heldLeaseOf('holder')).toBeUndefined();
    } finally {
      process.removeListener('SIGHUP', keepAlive);
    }
  });
});
