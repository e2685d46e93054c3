// Cancellation: a caller's AbortSignal (withSignal, or the runner's `signal` option) stops the
// call, its child process and its waiting, and releases its lease.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, test } from 'vitest';
import { CallAbortedError, lookupBlobStore, MemoizingRunner, useRunner, withSignal } from '../../src/index.js';
import { readLease, tryAcquireLease } from '../../src/execute/lease.js';
import { memoFile } from '../../src/protocol/memo-uri.js';
import { add, setRunnerSignal, slow, timed } from '../fixtures/subprocess-functions.js';
import { useTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';
import { readFileStoreObjectText } from '../support/file-store-object.js';

const tempDir = useTempDir();

function setup(concurrency = 2) {
  const { dir, uri } = tempDir();
  const log = path.join(dir, 'executions.log');
  writeFileSync(log, '');
  process.env.MEMOCALL_TEST_ROOT = uri;
  process.env.MEMOCALL_TEST_LOG = log;
  process.env.MEMOCALL_TEST_CONCURRENCY = String(concurrency);
  return {
    dir,
    uri,
    executions: () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ')),
  };
}

afterEach(() => {
  setRunnerSignal(undefined);
  delete process.env.MEMOCALL_TEST_CONCURRENCY;
});

const gone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
};

const filesUnder = (dir: string) =>
  existsSync(dir)
    ? readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
        .sort()
    : [];

describe('through the subprocess shim', () => {
  test('withSignal: aborting kills the child, releases the lease, leaves no temp files, and rejects with an AbortError', async () => {
    const s = setup();
    const controller = new AbortController();
    const call = withSignal(controller.signal, () => slow(120_000, 'abort-me'));
    const caught = call.catch((e: unknown) => e);
    await until(() => s.executions().length > 0, 60_000, 'the child to start');
    const pid = Number(s.executions()[0]![2]);
    const reason = new Error('the user gave up');
    const abortedAt = Date.now();
    controller.abort(reason);

    const error = await caught;
    expect(Date.now() - abortedAt).toBeLessThan(15_000);
    expect(error).toBeInstanceOf(CallAbortedError);
    expect(error).toMatchObject({ name: 'AbortError', code: 'MEMOCALL_ABORTED', cause: reason });
    expect(gone(pid)).toBe(true); // the call settles only once its child is gone

    const memoUri = await slow.memoUri(120_000, 'abort-me');
    const store = lookupBlobStore(memoUri);
    const lease = await readLease(store, memoFile.lease(memoUri));
    expect(lease?.record.releasedAt).toBeDefined();
    // The next caller need not wait for the lease to expire.
    const next = await tryAcquireLease(store, memoFile.lease(memoUri), 'next-caller', { ttlMs: 60_000 });
    expect(next.acquired).toBe(true);
    if (next.acquired) await next.lease.release();
    expect(filesUnder(fileURLToPath(memoUri))).toEqual(['invocation', 'lease']);
  }, 120_000);

  test("the runner's `signal` option aborts every call of that runner", async () => {
    const s = setup();
    const controller = new AbortController();
    setRunnerSignal(controller.signal);
    const calls = [slow(120_000, 'one'), slow(120_000, 'two')].map((p) => p.catch((e: unknown) => e));
    await until(() => s.executions().length === 2, 60_000, 'both children to start');
    controller.abort('shutting down');
    const errors = await Promise.all(calls);
    for (const e of errors) expect(e).toMatchObject({ name: 'AbortError', cause: 'shutting down' });
    for (const [, , pid] of s.executions()) expect(gone(Number(pid))).toBe(true);
    // The runner stays aborted: a new call is refused before anything is written.
    await expect(add(1, 1)).rejects.toMatchObject({ name: 'AbortError' });
    expect(existsSync(fileURLToPath(await add.memoUri(1, 1)))).toBe(false);
  }, 120_000);

  test('a caller waiting for a lease held elsewhere stops waiting on abort, and leaves that lease alone', async () => {
    const s = setup();
    const memoUri = await add.memoUri(5, 5);
    const store = lookupBlobStore(memoUri);
    const other = await tryAcquireLease(store, memoFile.lease(memoUri), 'someone-else', { ttlMs: 60_000 });
    expect(other.acquired).toBe(true);
    try {
      const started = Date.now();
      const error = await withSignal(AbortSignal.timeout(500), () => add(5, 5)).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'AbortError' });
      expect(Date.now() - started).toBeLessThan(10_000);
      expect((await readLease(store, memoFile.lease(memoUri)))?.record).toMatchObject({ writerId: 'someone-else' });
      expect((await readLease(store, memoFile.lease(memoUri)))?.record.releasedAt).toBeUndefined();
      expect(s.executions()).toEqual([]);
    } finally {
      if (other.acquired) await other.lease.release();
    }
  }, 60_000);

  test('a call queued for a slot (concurrency 1) stops queueing on abort, without ever taking its lease', async () => {
    setup(1);
    const holding = timed(2_000, 'hold');
    // The slot is taken before the lease: once the lease exists, the only slot is held.
    const holdLease = fileURLToPath(memoFile.lease(await timed.memoUri(2_000, 'hold')));
    await until(() => existsSync(holdLease), 60_000, 'the first call to hold the slot');
    const error = await withSignal(AbortSignal.timeout(300), () => add(8, 8)).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'AbortError' });
    expect(existsSync(fileURLToPath(memoFile.lease(await add.memoUri(8, 8))))).toBe(false);
    expect((await holding).tag).toBe('hold');
  }, 120_000);

  test('a signal aborted before the call refuses it before anything is written', async () => {
    setup();
    const error = await withSignal(AbortSignal.abort('not now'), () => add(7, 7)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallAbortedError);
    expect(error).toMatchObject({ cause: 'not now' });
    expect(existsSync(fileURLToPath(await add.memoUri(7, 7)))).toBe(false);
  });
});

describe('in the same process (samethread)', () => {
  test('identical concurrent calls: one giving up does not stop the computation the other still waits for', async () => {
    const { uri } = tempDir();
    let runs = 0;
    const slowDouble = useRunner(
      new MemoizingRunner({ blobRoot: uri }),
      async (x: number) => {
        runs++;
        await sleep(500);
        return x * 2;
      },
      { id: 'abort/shared' },
    );
    const controller = new AbortController();
    const quitter = withSignal(controller.signal, () => slowDouble(4)).catch((e: unknown) => e);
    const stayer = slowDouble(4);
    await until(() => runs === 1, 5_000, 'the shared computation to start');
    controller.abort();
    expect(await quitter).toMatchObject({ name: 'AbortError' });
    expect(await stayer).toBe(8);
    expect(runs).toBe(1);
  });

  test('when every caller gave up, the lease is released at once and the function (which cannot be stopped) writes nothing', async () => {
    const { uri } = tempDir();
    let finished = false;
    const slowTriple = useRunner(
      new MemoizingRunner({ blobRoot: uri }),
      async (x: number) => {
        await sleep(600);
        finished = true;
        return x * 3;
      },
      { id: 'abort/alone' },
    );
    const memoUri = await slowTriple.memoUri(2);
    const error = await withSignal(AbortSignal.timeout(100), () => slowTriple(2)).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'AbortError' });
    expect((await readLease(lookupBlobStore(memoUri), memoFile.lease(memoUri)))?.record.releasedAt).toBeDefined();
    await until(() => finished, 5_000, 'the function to end');
    // The run's record is its last write: once it is there, the run has ended.
    const metaDir = path.join(fileURLToPath(memoUri), 'meta');
    await until(() => filesUnder(metaDir).some((f) => f.endsWith('.json')), 5_000, 'the run to record its end');
    expect(existsSync(fileURLToPath(memoFile.result(memoUri)))).toBe(false);
    const meta = filesUnder(metaDir);
    expect(meta).toHaveLength(1);
    expect(JSON.parse(readFileStoreObjectText(path.join(fileURLToPath(memoUri), 'meta', meta[0]!)))).toMatchObject({
      outcome: 'lease-lost',
    });
    expect(await slowTriple(2)).toBe(6); // a later call computes it normally
  });

  test('nested calls of an in-process computation are aborted with it', async () => {
    const { uri } = tempDir();
    const runner = new MemoizingRunner({ blobRoot: uri });
    let innerStarted = false;
    let innerDone = false;
    const innerFn = useRunner(
      runner,
      async (x: number) => {
        innerStarted = true;
        await sleep(400);
        innerDone = true;
        return x;
      },
      { id: 'abort/inner' },
    );
    let outerEnded = false;
    const outerFn = useRunner(
      runner,
      async (x: number) => {
        try {
          return (await innerFn(x)) + (await innerFn(x + 1));
        } finally {
          outerEnded = true;
        }
      },
      { id: 'abort/outer' },
    );
    const controller = new AbortController();
    const call = withSignal(controller.signal, () => outerFn(1)).catch((e: unknown) => e);
    await until(() => innerStarted, 5_000, 'the inner call');
    controller.abort();
    expect(await call).toMatchObject({ name: 'AbortError' });
    await until(() => innerDone, 5_000, 'the first inner call to end');
    await until(() => outerEnded, 5_000, 'the outer body to end');
    // The outer body's second inner call was refused: no memo entry for it.
    expect(existsSync(fileURLToPath(await innerFn.memoUri(2)))).toBe(false);
  });
});
