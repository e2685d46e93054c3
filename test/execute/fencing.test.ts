// Fencing: a runner whose lease was taken over never writes over the new holder's work, and lease
// maintenance survives a store that fails now and then.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, test } from 'vitest';
import {
  LeaseLostError,
  lookupBlobStore,
  MemoizingRunner,
  registerBlobStore,
  RUN_EXIT,
  useRunner,
} from '../../src/index.js';
import type { BlobStore, PutOptions } from '../../src/index.js';
import { adoptLease, readLease, tryAcquireLease, type LeaseRecord } from '../../src/execute/lease.js';
import { memoFile } from '../../src/protocol/memo-uri.js';
import { decodeResultRecord, encodeResult } from '../../src/protocol/result-record.js';
import { nap, useTestRunner } from '../fixtures/remote-functions.js';
import { slow } from '../fixtures/subprocess-functions.js';
import { finished, spawnTs, waitForLine } from '../support/child.js';
import { parkingShim } from '../support/parking-shim.js';
import { useTempDir } from '../support/temp-dir.js';
import { readFileStoreObjectText } from '../support/file-store-object.js';

const tempDir = useTempDir();
const text = new TextEncoder();

afterEach(() => {
  useTestRunner(new MemoizingRunner({ blobRoot: 'memory://unused' }));
  delete process.env.MEMOCALL_TEST_LEASE_TTL_MS;
});

/** Another caller taking the lease over (as one would after finding it expired): a fenced write. */
async function takeOver(store: BlobStore, leaseUri: string, writerId: string): Promise<LeaseRecord> {
  const current = (await readLease(store, leaseUri))!;
  const now = Date.now();
  const record: LeaseRecord = {
    ...current.record,
    writerId,
    generation: current.record.generation + 1,
    heartbeatAt: now,
    acquiredAt: now,
    ttlMs: 90_000,
    pid: process.pid,
  };
  delete record.releasedAt;
  await store.put(leaseUri, text.encode(JSON.stringify(record)), { ifMatch: current.etag });
  return record;
}

const metaOf = (memoUri: string) => {
  const dir = path.join(fileURLToPath(memoUri), 'meta');
  return existsSync(dir)
    ? readdirSync(dir).map(
        (f) => JSON.parse(readFileStoreObjectText(path.join(dir, f))) as { outcome: string; detail?: string },
      )
    : [];
};

describe('a stale runner cannot overwrite', () => {
  test("a remote whose lease was taken over while it ran exits 47 and writes nothing; the new holder's result stands", async () => {
    const { dir, uri } = tempDir();
    const log = path.join(dir, 'executions.log');
    writeFileSync(log, '');
    const parking = parkingShim();
    useTestRunner(new MemoizingRunner({ blobRoot: uri, shim: parking.shim, waitInitialMs: 50, waitMaxMs: 200 }));
    const env = { MEMOCALL_TEST_ROOT: uri, MEMOCALL_TEST_LOG: log };

    const call = nap(1_500);
    const parked = await parking.next(); // writer A holds the lease
    const store = lookupBlobStore(uri);
    const runA = spawnTs('src/shims/subprocess/child-main.ts', parked.argv, { env });
    const doneA = finished(runA);
    await waitForLine(runA, 'started');
    await takeOver(store, memoFile.lease(parked.memoUri), 'writer-B');

    const a = await doneA;
    expect(a.code, a.stderr).toBe(RUN_EXIT.leaseLost);
    expect(a.stderr).toContain('wrote nothing');
    expect(existsSync(fileURLToPath(memoFile.result(parked.memoUri)))).toBe(false);
    expect(metaOf(parked.memoUri)).toMatchObject([{ outcome: 'lease-lost' }]);
    expect(metaOf(parked.memoUri)[0]!.detail).toContain('writer-B');

    const b = await finished(
      spawnTs('src/shims/subprocess/child-main.ts', ['run', parked.memoUri, '--writer-id=writer-B'], { env }),
    );
    expect(b.code, b.stderr).toBe(RUN_EXIT.ok);
    const stored = decodeResultRecord(await store.get(memoFile.result(parked.memoUri)));
    expect(stored.writerId).toBe('writer-B');

    // A's caller learns its run wrote nothing, sees B holds the lease, and takes B's result.
    parked.finish();
    const value = await call;
    expect(value).toMatch(/^napped 1500 in \d+$/);
    expect(value).not.toContain(String(a.stdout.match(/started (\d+)/)?.[1]));
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(2); // A ran (for nothing), B ran
  }, 120_000);

  test('with a short lease, the remote notices the takeover while running and stops early', async () => {
    const { uri } = tempDir();
    const parking = parkingShim();
    useTestRunner(new MemoizingRunner({ blobRoot: uri, shim: parking.shim, leaseTtlMs: 1_000 }));
    const call = nap(60_000).catch((e: unknown) => e);
    const parked = await parking.next();
    const runA = spawnTs('src/shims/subprocess/child-main.ts', parked.argv, { env: { MEMOCALL_TEST_ROOT: uri } });
    const doneA = finished(runA);
    await waitForLine(runA, 'started');
    const takenAt = Date.now();
    await takeOver(lookupBlobStore(uri), memoFile.lease(parked.memoUri), 'writer-B');
    const a = await doneA;
    expect(a.code).toBe(RUN_EXIT.leaseLost);
    expect(Date.now() - takenAt).toBeLessThan(30_000); // not the 60 s nap
    expect(metaOf(parked.memoUri)[0]?.detail).toContain('stopped while running');
    // The caller's side notices too, at its next heartbeat.
    const signal = parked.signal!;
    await new Promise((resolve) =>
      signal.aborted ? resolve(undefined) : signal.addEventListener('abort', resolve, { once: true }),
    );
    parked.finish();
    await lookupBlobStore(uri).put(
      memoFile.result(parked.memoUri),
      encodeResult('by B', { runId: 'b', writerId: 'writer-B', functionId: 'x', finishedAt: '' }).record,
    );
    expect(await call).toBe('by B');
  }, 120_000);

  test("the caller's side: when its lease is taken over, the subprocess child is stopped and the caller waits for the new holder", async () => {
    const { dir, uri } = tempDir();
    const log = path.join(dir, 'executions.log');
    writeFileSync(log, '');
    process.env.MEMOCALL_TEST_ROOT = uri;
    process.env.MEMOCALL_TEST_LOG = log;
    process.env.MEMOCALL_TEST_LEASE_TTL_MS = '1000';
    const call = slow(60_000, 'taken');
    await (async () => {
      while (!readFileSync(log, 'utf8')) await sleep(50);
    })();
    const pid = Number(readFileSync(log, 'utf8').split(' ')[2]);
    const memoUri = await slow.memoUri(60_000, 'taken');
    const store = lookupBlobStore(memoUri);
    await takeOver(store, memoFile.lease(memoUri), 'writer-B');
    const deadline = Date.now() + 20_000;
    while (!isGone(pid) && Date.now() < deadline) await sleep(50);
    expect(isGone(pid)).toBe(true);
    await store.put(
      memoFile.result(memoUri),
      encodeResult('by B', { runId: 'b', writerId: 'writer-B', functionId: 'x', finishedAt: '' }).record,
    );
    expect(await call).toBe('by B');
    expect((await readLease(store, memoFile.lease(memoUri)))?.record.writerId).toBe('writer-B');
  }, 120_000);
});

function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

/**
 * A file store behind a `flaky://` scheme that fails chosen writes with a transient error, as a
 * network store does now and then. Not a mock: every other operation is the real file store.
 */
class FlakyStore implements BlobStore {
  failures = 0;
  constructor(
    private readonly inner: BlobStore,
    private readonly shouldFail: (uri: string, data: Uint8Array, opts: PutOptions | undefined) => boolean,
  ) {}
  private real = (uri: string) => uri.replace(/^flaky:/, 'file:');
  get = (uri: string) => this.inner.get(this.real(uri));
  tryGet = (uri: string) => (this.inner.tryGet ? this.inner.tryGet(this.real(uri)) : this.inner.get(this.real(uri)));
  getVersioned = (uri: string) => this.inner.getVersioned!(this.real(uri));
  head = (uri: string) => this.inner.head(this.real(uri));
  delete = (uri: string) => this.inner.delete(this.real(uri));
  getFile = (uri: string, local: string) => this.inner.getFile(this.real(uri), local);
  putFile = (local: string, uri: string, opts?: PutOptions) => this.inner.putFile(local, this.real(uri), opts);
  async *list(prefix: string) {
    for await (const uri of this.inner.list(this.real(prefix))) yield uri.replace(/^file:/, 'flaky:');
  }
  async put(uri: string, data: Uint8Array, opts?: PutOptions) {
    if (this.shouldFail(uri, data, opts)) {
      this.failures++;
      throw Object.assign(new Error('connection reset by peer'), { code: 'ECONNRESET' });
    }
    return this.inner.put(this.real(uri), data, opts);
  }
}

describe('lease maintenance against a flaky store', () => {
  test('failed heartbeats are retried, never dropped: the lease stays held and fresh for the whole call', async () => {
    const { dir } = tempDir();
    let heartbeatsToFail = 4;
    const flaky = new FlakyStore(lookupBlobStore('file:///'), (uri, data, opts) => {
      const isHeartbeat =
        uri.endsWith('/lease') && opts?.ifMatch !== undefined && !new TextDecoder().decode(data).includes('releasedAt');
      return isHeartbeat && heartbeatsToFail-- > 0;
    });
    registerBlobStore('flaky', () => flaky);
    const root = pathToFileURL(dir).href.replace(/^file:/, 'flaky:');
    const runner = new MemoizingRunner({ blobRoot: root, leaseTtlMs: 600, leaseRefreshMs: 100 });
    const seen: LeaseRecord[] = [];
    const work = useRunner(
      runner,
      async (x: number) => {
        const memoUri = await work.memoUri(x);
        for (let i = 0; i < 25; i++) {
          await sleep(60);
          seen.push((await readLease(flaky, memoFile.lease(memoUri)))!.record);
        }
        return x + 1;
      },
      { id: 'fencing/flaky' },
    );
    expect(await work(1)).toBe(2);
    expect(flaky.failures).toBe(4);
    const writers = new Set(seen.map((r) => r.writerId));
    expect(writers.size).toBe(1);
    // Never stale long enough for anyone to take it over, and refreshed after the failures.
    let last = seen[0]!.heartbeatAt;
    for (const r of seen) {
      expect(r.releasedAt).toBeUndefined();
      expect(r.heartbeatAt - last).toBeLessThan(600);
      last = r.heartbeatAt;
    }
    expect(seen.at(-1)!.heartbeatAt).toBeGreaterThan(seen[0]!.heartbeatAt);
  }, 60_000);

  test('a release that fails is retried, so the next caller need not wait for expiry', async () => {
    const { dir } = tempDir();
    let releasesToFail = 2;
    const flaky = new FlakyStore(
      lookupBlobStore('file:///'),
      (uri, data) =>
        uri.endsWith('/lease') && new TextDecoder().decode(data).includes('releasedAt') && releasesToFail-- > 0,
    );
    registerBlobStore('flaky', () => flaky);
    const root = pathToFileURL(dir).href.replace(/^file:/, 'flaky:');
    const fail = useRunner(
      new MemoizingRunner({ blobRoot: root }),
      async () => {
        throw new Error('boom');
      },
      { id: 'fencing/release' },
    );
    await expect(fail()).rejects.toThrow('boom'); // the failure path awaits the release
    expect(flaky.failures).toBe(2);
    const memoUri = await fail.memoUri();
    expect((await readLease(flaky, memoFile.lease(memoUri)))?.record.releasedAt).toBeDefined();
  }, 60_000);
});

describe('HeldLease fences', () => {
  test('after its release a lease no longer verifies, even within half a TTL of its last heartbeat', async () => {
    const { uri } = tempDir();
    const store = lookupBlobStore(uri);
    const leaseUri = `${uri}/x/lease`;
    const attempt = await tryAcquireLease(store, leaseUri, 'me', { ttlMs: 60_000 });
    if (!attempt.acquired) throw new Error('not acquired');
    await attempt.lease.verify();
    await attempt.lease.release();
    await expect(attempt.lease.verify()).rejects.toBeInstanceOf(LeaseLostError);
  });

  test("a remote's adopted lease always reads: it fails to verify as soon as the caller released", async () => {
    const { uri } = tempDir();
    const store = lookupBlobStore(uri);
    const leaseUri = `${uri}/y/lease`;
    const attempt = await tryAcquireLease(store, leaseUri, 'caller', { ttlMs: 60_000 });
    if (!attempt.acquired) throw new Error('not acquired');
    const remote = await adoptLease(store, leaseUri, 'caller');
    await remote.verify();
    await attempt.lease.release(); // e.g. the caller was aborted
    await expect(remote.verify()).rejects.toBeInstanceOf(LeaseLostError);
    expect(remote.isLost).toBe(true);
    await remote.release();
  });

  test('adopting a lease held by another writer fails with LeaseLostError', async () => {
    const { uri } = tempDir();
    const store = lookupBlobStore(uri);
    const leaseUri = `${uri}/z/lease`;
    const attempt = await tryAcquireLease(store, leaseUri, 'caller', { ttlMs: 60_000 });
    await expect(adoptLease(store, leaseUri, 'impostor')).rejects.toBeInstanceOf(LeaseLostError);
    if (attempt.acquired) await attempt.lease.release();
  });
});
