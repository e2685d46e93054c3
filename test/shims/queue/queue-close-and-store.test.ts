// The queue shim's two ways of hearing of an outcome and its closing, on a real Redis: a result
// stored by a run Redis never hears of is returned all the same (the caller also polls the
// store), and `close()` settles however Redis is doing, call after call.
import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { MemoizingRunner, queue, startQueueWorker, type QueueShim } from '../../../src/index.js';
import { runInvocation } from '../../../src/execute/remote-entry.js';
import { parseRunArgv } from '../../../src/protocol/run-argv.js';
import type { QueueJobData } from '../../../src/shims/queue/queue-job.js';
import { redisSkipRequested, startRedis, type RedisServer } from '../../support/redis-server.js';
import { useTempDir } from '../../support/temp-dir.js';
import { until } from '../../support/until.js';
import { cube, overload, useQueueTestRunner } from './queue-functions.js';

const skip = redisSkipRequested();
const tempDir = useTempDir();
let redis: RedisServer;

beforeAll(async () => {
  if (skip) return;
  redis = await startRedis();
}, 60_000);

afterAll(async () => {
  await redis?.stop();
});

/** `promise`, or a failure naming `what` after `ms`: a hang fails the test instead of stalling it. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

test.skipIf(skip)(
  'a result stored by a run Redis never hears of is returned within a few store polls (the job still waits in Redis)',
  async () => {
    const { uri } = tempDir();
    // Redis checks every minute only: the store is what the caller must notice.
    const shim = queue({ connection: `${redis.url}/nobody-listens`, pollMs: 60_000 });
    useQueueTestRunner(new MemoizingRunner({ blobRoot: uri, shim }));
    try {
      const call = cube(7);
      const probe = new Queue<QueueJobData>('nobody-listens', { connection: { host: '127.0.0.1', port: redis.port } });
      try {
        let job: Awaited<ReturnType<typeof probe.getWaiting>>[number] | undefined;
        await until(async () => (job = (await probe.getWaiting())[0]) !== undefined, 30_000, 'the job to be queued');
        // A worker cut off from Redis: it runs the invocation and stores the result, and Redis
        // never learns of it.
        const report = await runInvocation(parseRunArgv(job!.data.argv));
        expect(report.status).toBe('ok');
        const storedAt = performance.now();
        expect(await within(call, 20_000, 'the call')).toEqual({ cubed: 343, pid: process.pid });
        const latencyMs = performance.now() - storedAt;
        console.log(`queue caller returned ${latencyMs.toFixed(0)} ms after the result was stored`);
        expect(latencyMs).toBeLessThan(10_000); // Redis would have said nothing for a minute
        expect(await probe.getJobState(job!.id!)).toBe('waiting');
      } finally {
        await probe.close();
      }
    } finally {
      await shim.close();
    }
  },
  60_000,
);

test.skipIf(skip)(
  'an error an earlier run left is not taken for the outcome of the call that runs again',
  async () => {
    const { uri } = tempDir();
    const shim = queue({ connection: `${redis.url}/reruns`, pollMs: 60_000, storePollMaxMs: 100 });
    useQueueTestRunner(new MemoizingRunner({ blobRoot: uri, shim }));
    const probe = new Queue<QueueJobData>('reruns', { connection: { host: '127.0.0.1', port: redis.port } });
    const ran = new Set<string>();
    /** Runs the next queued job here, as a worker Redis never hears of. */
    const runNextJob = async () => {
      let job: Awaited<ReturnType<typeof probe.getWaiting>>[number] | undefined;
      await until(
        async () => (job = (await probe.getWaiting()).find((j) => !ran.has(j.id!))) !== undefined,
        30_000,
        'a job to be queued',
      );
      ran.add(job!.id!);
      return runInvocation(parseRunArgv(job!.data.argv));
    };
    try {
      const first = overload('again').catch((err: unknown) => err);
      expect((await runNextJob()).status).toBe('user-error');
      expect(await within(first, 20_000, 'the first call')).toMatchObject({ name: 'CapacityError' });

      // Errors run again (rerunErrors): the stored error is the earlier run's, not this call's.
      let settled = false;
      const second = overload('again').catch((err: unknown) => err);
      void second.finally(() => (settled = true));
      await until(async () => (await probe.getWaitingCount()) === 2, 30_000, 'the second job to be queued');
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // many store polls, 100 ms apart
      expect(settled).toBe(false);
      expect((await runNextJob()).status).toBe('user-error');
      expect(await within(second, 20_000, 'the second call')).toMatchObject({ name: 'CapacityError' });
    } finally {
      await probe.close();
      await shim.close();
    }
  },
  60_000,
);

test.skipIf(skip)(
  '20 open / call / close cycles in one process: every close settles',
  async () => {
    const worker = await startQueueWorker({ connection: `${redis.url}/cycles` });
    try {
      const { uri } = tempDir();
      for (let i = 0; i < 20; i++) {
        const shim: QueueShim = queue({ connection: `${redis.url}/cycles` });
        useQueueTestRunner(new MemoizingRunner({ blobRoot: uri, shim }));
        expect(await within(cube(i), 30_000, `call ${i}`)).toEqual({ cubed: i ** 3, pid: process.pid });
        // Twice at once: both settle, with the same closing.
        await within(Promise.all([shim.close(), shim.close()]), 15_000, `close ${i}`);
      }
    } finally {
      await worker.close(5_000);
    }
  },
  120_000,
);

test.skipIf(skip)(
  'close() settles while Redis cannot be reached (its connections waiting to reconnect); the waiting call fails',
  async () => {
    const lonely = await startRedis();
    const shim = queue({ connection: `${lonely.url}/gone`, pollMs: 500 });
    useQueueTestRunner(new MemoizingRunner({ blobRoot: tempDir().uri, shim }));
    const call = cube(3).catch((err: unknown) => err);
    try {
      const probe = new Queue('gone', { connection: { host: '127.0.0.1', port: lonely.port } });
      try {
        await until(async () => (await probe.getWaitingCount()) === 1, 30_000, 'the job to be queued');
      } finally {
        await probe.close();
      }
    } finally {
      await lonely.stop(); // the shim's connections now retry, and never end by themselves
    }
    await within(shim.close(), 15_000, 'close');
    expect(await within(call, 15_000, 'the call')).toMatchObject({ code: 'MEMOCALL_CONFIGURATION' });
  },
  60_000,
);
