// The queue shim and `memocall worker` on a real Redis (Debian's redis-server, started here):
// two warm workers, each a separate process, serve every test of this file.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  CallAbortedError,
  lookupBlobStore,
  MemoizingRunner,
  queue,
  RemoteError,
  withSignal,
  type QueueShim,
} from '../../../src/index.js';
import { readLease } from '../../../src/execute/lease.js';
import { memoFile } from '../../../src/protocol/memo-uri.js';
import { queueJobId } from '../../../src/shims/queue/queue-job.js';
import { redisSkipRequested, startRedis, type RedisServer } from '../../support/redis-server.js';
import { useTempDir } from '../../support/temp-dir.js';
import { cube, cubePlusOne, nap, overload, useQueueTestRunner } from './queue-functions.js';
import { startWorker, type WorkerProcess } from './workers.js';
import { until } from '../../support/until.js';

const skip = redisSkipRequested();
const tempDir = useTempDir();
let redis: RedisServer;
let workers: WorkerProcess[] = [];
const shims: QueueShim[] = [];
let logDir: string;
let log: string;

beforeAll(async () => {
  if (skip) return;
  redis = await startRedis();
  logDir = mkdtempSync(path.join(tmpdir(), 'memocall-queue-test-'));
  log = path.join(logDir, 'executions.log');
  writeFileSync(log, '');
  const env = { MEMOCALL_TEST_LOG: log, MEMOCALL_TEST_QUEUE: `${redis.url}/pool` };
  workers = await Promise.all([startWorker(`${redis.url}/pool`, [], env), startWorker(`${redis.url}/pool`, [], env)]);
}, 120_000);

afterAll(async () => {
  await Promise.all(shims.map((s) => s.close()));
  const ends = await Promise.all(workers.map((w) => w.stop()));
  await redis?.stop();
  if (logDir) rmSync(logDir, { recursive: true, force: true });
  // A graceful stop: SIGTERM, running jobs finished, exit 0.
  for (const end of ends) expect(end.code).toBe(0);
});

/** A fresh blob root; the caller's runner enqueues on `queueName` (default: the workers'). */
function setup(opts: { queueName?: string; leaseTtlMs?: number } = {}) {
  const { uri } = tempDir();
  const shim = queue({ connection: `${redis.url}/${opts.queueName ?? 'pool'}`, pollMs: 2_000 });
  shims.push(shim);
  const runner = new MemoizingRunner({
    blobRoot: uri,
    shim,
    waitInitialMs: 50,
    waitMaxMs: 250,
    leaseTtlMs: opts.leaseTtlMs ?? 90_000,
  });
  useQueueTestRunner(runner);
  return { uri, shim };
}

const executions = () => readFileSync(log, 'utf8').split('\n').filter(Boolean);

async function metaOutcomes(memoUri: string): Promise<string[]> {
  const store = lookupBlobStore(memoUri);
  const outcomes: string[] = [];
  for await (const uri of store.list(`${memoUri}/meta/`))
    outcomes.push((JSON.parse(new TextDecoder().decode(await store.get(uri))) as { outcome: string }).outcome);
  return outcomes;
}

test.skipIf(skip)(
  'calls run in the warm workers and come back; a second call is a hit; concurrent calls spread over both workers',
  async () => {
    setup();
    const value = await cube(3);
    expect(value.cubed).toBe(27);
    expect(workers.map((w) => w.pid)).toContain(value.pid);
    expect(await cube(3)).toEqual(value);
    expect(executions().filter((e) => e.startsWith('cube 3 '))).toEqual([`cube 3 ${value.pid}`]);

    const many = await Promise.all([10, 11, 12, 13].map((x) => cube(x, 400)));
    expect(many.map((m) => m.cubed)).toEqual([1000, 1331, 1728, 2197]);
    expect(new Set(many.map((m) => m.pid)).size).toBe(2); // both workers took jobs
  },
  60_000,
);

test.skipIf(skip)(
  'an error thrown in a worker is re-thrown here with its remote stack; the worker carries on',
  async () => {
    setup();
    const error = await overload('tuesday').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteError);
    const remote = error as RemoteError;
    expect(remote.name).toBe('CapacityError');
    expect(remote.message).toBe('no capacity for tuesday');
    expect(remote.remoteStack).toMatch(/^CapacityError: no capacity for tuesday\n\s+at .*queue-functions\.ts:\d+/);
    expect(remote.props).toEqual({ capacity: 3 });
    expect((await cube(4)).cubed).toBe(64);
    for (const w of workers) expect(w.child.exitCode).toBeNull();
  },
  60_000,
);

test.skipIf(skip)(
  'a nested call inside a queued job runs in that worker, so a parent never waits for a slot it holds',
  async () => {
    setup();
    const value = await cubePlusOne(5);
    expect(value.value).toBe(126);
    expect(value.pid).toBe(value.outerPid);
    expect(workers.map((w) => w.pid)).toContain(value.pid);
  },
  60_000,
);

test.skipIf(skip)(
  'aborting a call whose job still waits removes the job from the queue and releases the lease',
  async () => {
    setup({ queueName: 'nobody-listens' });
    const controller = new AbortController();
    const outcome = withSignal(controller.signal, () => cube(99)).catch((e: unknown) => e);
    const memoUri = await cube.memoUri(99);
    const probe = new Queue('nobody-listens', { connection: { host: '127.0.0.1', port: redis.port } });
    try {
      let jobId = '';
      await until(
        async () => {
          const lease = await readLease(lookupBlobStore(memoUri), memoFile.lease(memoUri));
          if (!lease) return false;
          jobId = queueJobId(memoUri, lease.record.writerId);
          return (await probe.getJob(jobId)) !== undefined;
        },
        20_000,
        'the job to be queued',
      );
      expect(await probe.getJobState(jobId)).toBe('waiting');
      controller.abort(new Error('not needed any more'));
      expect(await outcome).toBeInstanceOf(CallAbortedError);
      expect(await probe.getJob(jobId)).toBeUndefined();
      expect((await readLease(lookupBlobStore(memoUri), memoFile.lease(memoUri)))?.record.releasedAt).toBeDefined();
    } finally {
      await probe.close();
    }
  },
  60_000,
);

test.skipIf(skip)(
  'aborting a call whose job runs releases the lease; the worker run is fenced: it stops, stores nothing, and the worker carries on',
  async () => {
    // A short lease: the worker's run checks it every second.
    setup({ leaseTtlMs: 2_000 });
    const controller = new AbortController();
    const outcome = withSignal(controller.signal, () => nap(20_000, 'fenced')).catch((e: unknown) => e);
    await until(
      () => executions().some((e) => e.startsWith('nap "fenced"')),
      30_000,
      'the worker to start the function',
    );
    const memoUri = await nap.memoUri(20_000, 'fenced');
    controller.abort(new Error('changed my mind'));
    expect(await outcome).toBeInstanceOf(CallAbortedError);
    await until(
      async () => (await metaOutcomes(memoUri)).includes('lease-lost'),
      15_000,
      'the worker run to end fenced',
    );
    expect(await lookupBlobStore(memoUri).head(memoFile.result(memoUri))).toBeNull();
    expect((await cube(6)).cubed).toBe(216); // the slot is free again
  },
  60_000,
);
