// Workers that die mid-job (SIGKILL: no clean-up at all), on a real Redis: BullMQ's stalled-job
// recovery gives the job to another worker, and the caller's lease fences every run, so at most
// one result is ever stored. The workers use short lock and stalled-check periods (the
// production defaults are 30 s each).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import {
  CallAbortedError,
  lookupBlobStore,
  MemoizingRunner,
  queue,
  withSignal,
  type QueueShim,
} from '../../../src/index.js';
import { memoFile } from '../../../src/protocol/memo-uri.js';
import { decodeResultRecord } from '../../../src/protocol/result-record.js';
import { readLease } from '../../../src/execute/lease.js';
import { parseAttemptWriterId } from '../../../src/protocol/attempt-writer-id.js';
import { queueJobId } from '../../../src/shims/queue/queue-job.js';
import { redisSkipRequested, startRedis, type RedisServer } from '../../support/redis-server.js';
import { useTempDir } from '../../support/temp-dir.js';
import { gated, nap, useQueueTestRunner } from './queue-functions.js';
import { startWorker, type WorkerProcess } from './workers.js';
import { until } from '../../support/until.js';

const skip = redisSkipRequested();
const tempDir = useTempDir();
let redis: RedisServer;
let logDir: string;
let workers: WorkerProcess[] = [];
const shims: QueueShim[] = [];

beforeAll(async () => {
  if (skip) return;
  redis = await startRedis();
  logDir = mkdtempSync(path.join(tmpdir(), 'memocall-queue-recovery-'));
}, 60_000);

afterEach(async () => {
  await Promise.all(shims.splice(0).map((s) => s.close()));
  for (const w of workers.splice(0)) w.child.kill('SIGKILL');
});

afterAll(async () => {
  await redis?.stop();
  if (logDir) rmSync(logDir, { recursive: true, force: true });
});

/** Two workers on a fresh queue, lock 2 s (renewed every 1 s), stalled check every 0.5 s. */
async function setup(queueName: string, lockMs = 2_000, concurrency = 1) {
  const log = path.join(logDir, `${queueName}.log`);
  writeFileSync(log, '');
  const url = `${redis.url}/${queueName}`;
  const args = ['--lock-ms', String(lockMs), '--stalled-interval-ms', '500', '--concurrency', String(concurrency)];
  workers = await Promise.all([
    startWorker(url, args, { MEMOCALL_TEST_LOG: log, MEMOCALL_TEST_GATES: logDir }),
    startWorker(url, args, { MEMOCALL_TEST_LOG: log, MEMOCALL_TEST_GATES: logDir }),
  ]);
  const { uri } = tempDir();
  const runnerFor = () => {
    const shim = queue({ connection: url, pollMs: 1_000 });
    shims.push(shim);
    return new MemoizingRunner({ blobRoot: uri, shim, waitInitialMs: 50, waitMaxMs: 250 });
  };
  return { url, runnerFor, executions: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

async function filesUnder(memoUri: string, folder: string): Promise<string[]> {
  const found: string[] = [];
  for await (const uri of lookupBlobStore(memoUri).list(`${memoUri}/${folder}/`)) found.push(uri);
  return found;
}

async function metaOutcomes(memoUri: string): Promise<string[]> {
  const store = lookupBlobStore(memoUri);
  const outcomes: string[] = [];
  for (const uri of await filesUnder(memoUri, 'meta'))
    outcomes.push((JSON.parse(new TextDecoder().decode(await store.get(uri))) as { outcome: string }).outcome);
  return outcomes.sort();
}

test.skipIf(skip)(
  'a worker SIGKILLed mid-job: its job is re-run by the other worker, and exactly one result is stored',
  async () => {
    const s = await setup('killed-worker');
    useQueueTestRunner(s.runnerFor());
    const call = nap(2_500, 'killed');
    await until(() => s.executions().length === 1, 30_000, 'a worker to start the job');
    const firstPid = Number(s.executions()[0]!.split(' ').at(-1));
    const victim = workers.find((w) => w.pid === firstPid)!;
    const survivor = workers.find((w) => w.pid !== firstPid)!;
    victim.child.kill('SIGKILL');
    expect((await victim.ended).signal).toBe('SIGKILL');

    expect(await call).toBe(`napped 2500 in ${survivor.pid}`);
    expect(s.executions()).toEqual([`nap "killed" ${victim.pid}`, `nap "killed" ${survivor.pid}`]);
    const memoUri = await nap.memoUri(2_500, 'killed');
    expect(await filesUnder(memoUri, 'lost-race')).toEqual([]);
    expect(await metaOutcomes(memoUri)).toEqual(['result']); // the killed run wrote nothing at all
  },
  90_000,
);

test.skipIf(skip)(
  "a stalled job re-run after its caller's lease moved on is fenced: it runs nothing and stores nothing",
  async () => {
    // A longer lock: the killed worker's job stays locked (not removable) while the caller aborts.
    // Two slots per worker: the stalled job's re-run overlaps the new caller's run.
    const s = await setup('fenced-rerun', 4_000, 2);
    useQueueTestRunner(s.runnerFor());
    const controller = new AbortController();
    const aborted = withSignal(controller.signal, () => nap(6_000, 'moved-on')).catch((e: unknown) => e);
    await until(() => s.executions().length === 1, 30_000, 'a worker to start the job');
    const memoUri = await nap.memoUri(6_000, 'moved-on');
    // The first run holds the lease under the caller's own writer id.
    const firstWriter = (await readLease(lookupBlobStore(memoUri), memoFile.lease(memoUri)))!.record.writerId;
    expect(parseAttemptWriterId(firstWriter)).toBeUndefined();
    const victimPid = Number(s.executions()[0]!.split(' ').at(-1));
    const victim = workers.find((w) => w.pid === victimPid)!;
    const survivor = workers.find((w) => w.pid !== victimPid)!;
    victim.child.kill('SIGKILL');
    await victim.ended;
    // The caller gives up (its lease is released); its job is still locked by the dead worker, so
    // it cannot be removed: it will be recovered as stalled and re-run, under the old writer id.
    controller.abort(new Error('giving up'));
    expect(await aborted).toBeInstanceOf(CallAbortedError);

    // A new caller takes the lease (a new writer id) and gets its own run; meanwhile the stalled
    // job is re-run (once the dead worker's lock expires) and fenced by that lease.
    useQueueTestRunner(s.runnerFor());
    expect(await nap(6_000, 'moved-on')).toBe(`napped 6000 in ${survivor.pid}`);
    const probe = new Queue('fenced-rerun', { connection: { host: '127.0.0.1', port: redis.port } });
    try {
      const stalled = queueJobId(memoUri, firstWriter);
      await until(
        async () => (await probe.getJobState(stalled)) === 'completed',
        30_000,
        'the stalled job to be re-run',
      );
      const rerun = (await probe.getJob(stalled))!;
      expect(rerun.returnvalue).toMatchObject({ status: 'lease-lost' });
    } finally {
      await probe.close();
    }
    const result = decodeResultRecord(await lookupBlobStore(memoUri).get(memoFile.result(memoUri)));
    expect(result.writerId).not.toBe(firstWriter);
    expect(await metaOutcomes(memoUri)).toEqual(['lease-lost', 'result']);
    // The function ran twice: in the killed worker, and for the new caller. The re-run ran nothing.
    expect(s.executions()).toEqual([`nap "moved-on" ${victimPid}`, `nap "moved-on" ${survivor.pid}`]);
  },
  90_000,
);

test.skipIf(skip)(
  'a worker paused past its lock (SIGSTOP) is told apart from the re-run: resumed, it stores nothing; the re-run stores the one result',
  async () => {
    const s = await setup('paused-worker');
    useQueueTestRunner(s.runnerFor());
    const call = gated('paused');
    await until(() => s.executions().length === 1, 30_000, 'a worker to start the job');
    const memoUri = await gated.memoUri('paused');
    const store = lookupBlobStore(memoUri);
    const pausedPid = Number(s.executions()[0]!.split(' ').at(-1));
    const survivor = workers.find((w) => w.pid !== pausedPid)!;
    const callerWriter = (await readLease(store, memoFile.lease(memoUri)))!.record.writerId;
    expect(parseAttemptWriterId(callerWriter)).toBeUndefined(); // the first run writes no lease of its own
    process.kill(pausedPid, 'SIGSTOP');
    try {
      // Its lock lapses: BullMQ gives the job to the other worker, a second attempt.
      await until(() => s.executions().length === 2, 30_000, 'the stalled job to be re-run');
      expect(s.executions()[1]).toBe(`gated "paused" ${survivor.pid}`);
      // It took the lease over under its own id: the paused run's (the caller's) no longer fences.
      expect((await readLease(store, memoFile.lease(memoUri)))!.record.writerId).toBe(`${callerWriter}#a2`);
    } finally {
      process.kill(pausedPid, 'SIGCONT');
    }
    // The paused run wakes up and finishes first, while the caller still holds its lease: the
    // writer id alone could not tell the two runs apart; its attempt id can.
    writeFileSync(path.join(logDir, String(pausedPid)), '');
    await until(
      async () => (await metaOutcomes(memoUri)).includes('lease-lost'),
      30_000,
      'the resumed run to find its lease taken',
    );
    expect(await store.head(memoFile.result(memoUri))).toBeNull();
    writeFileSync(path.join(logDir, String(survivor.pid)), '');
    expect(await call).toEqual({ tag: 'paused', pid: survivor.pid });
    expect(await metaOutcomes(memoUri)).toEqual(['lease-lost', 'result']);
    expect(await filesUnder(memoUri, 'lost-race')).toEqual([]);
  },
  90_000,
);

test.skipIf(skip)(
  'SIGTERM: a worker stops taking jobs, finishes the one it runs (its result is stored), and exits 0',
  async () => {
    const s = await setup('graceful');
    useQueueTestRunner(s.runnerFor());
    const call = nap(2_000, 'graceful');
    await until(() => s.executions().length === 1, 30_000, 'a worker to start the job');
    const runnerPid = Number(s.executions()[0]!.split(' ').at(-1));
    const worker = workers.find((w) => w.pid === runnerPid)!;
    worker.child.kill('SIGTERM');
    expect(await call).toBe(`napped 2000 in ${runnerPid}`); // finished by the stopping worker itself
    const end = await worker.ended;
    expect(end.code).toBe(0);
    expect(end.stderr).toContain('SIGTERM: finishing 1 running job(s)');
    expect(s.executions()).toHaveLength(1);
  },
  60_000,
);
