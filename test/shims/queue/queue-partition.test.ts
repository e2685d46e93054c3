// A worker cut off from Redis by a real network partition: the worker runs in its own network
// namespace and reaches Redis only over a private veth link, which the test takes down while a
// job runs (the blob store, a local directory, stays reachable). The caller must still return
// the stored result promptly (it polls the store), a re-run of the stalled job by BullMQ must not
// let the cut-off run publish anything (each attempt fences with its own writer id), and no job
// may be lost once the link heals. Needs root (network namespaces); skipped otherwise.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { lookupBlobStore, MemoizingRunner, queue, type QueueShim } from '../../../src/index.js';
import { readLease } from '../../../src/execute/lease.js';
import { parseAttemptWriterId } from '../../../src/protocol/attempt-writer-id.js';
import { memoFile } from '../../../src/protocol/memo-uri.js';
import { queueJobId } from '../../../src/shims/queue/queue-job.js';
import { redisSkipRequested, startRedis, type RedisServer } from '../../support/redis-server.js';
import { useTempDir } from '../../support/temp-dir.js';
import { until } from '../../support/until.js';
import { createPrivateLink, privateLinksAvailable, type PrivateLink } from './private-link.js';
import { gated, useQueueTestRunner } from './queue-functions.js';
import { startWorker, type WorkerProcess } from './workers.js';

const skip = redisSkipRequested() || !privateLinksAvailable();
const tempDir = useTempDir();
let link: PrivateLink;
let redis: RedisServer;
let logDir: string;
let workers: WorkerProcess[] = [];
const shims: QueueShim[] = [];

beforeAll(async () => {
  if (skip) return;
  link = createPrivateLink();
  redis = await startRedis({ alsoBind: [link.hostAddress] });
  logDir = mkdtempSync(path.join(tmpdir(), 'memocall-queue-partition-'));
}, 60_000);

afterEach(async () => {
  link?.heal();
  await Promise.all(shims.splice(0).map((s) => s.close()));
  for (const w of workers.splice(0)) w.child.kill('SIGKILL');
});

afterAll(async () => {
  await redis?.stop();
  link?.remove();
  if (logDir) rmSync(logDir, { recursive: true, force: true });
});

const WORKER_ARGS = ['--lock-ms', '2000', '--stalled-interval-ms', '500'];

/** One worker on the far side of the link; the caller (this process) is on Redis' side. */
async function setup(queueName: string) {
  const log = path.join(logDir, `${queueName}.log`);
  writeFileSync(log, '');
  const env = { MEMOCALL_TEST_LOG: log, MEMOCALL_TEST_GATES: logDir };
  const cutOff = await startWorker(`redis://${link.hostAddress}:${redis.port}/${queueName}`, WORKER_ARGS, env, link.ns);
  workers.push(cutOff);
  const shim = queue({ connection: `${redis.url}/${queueName}`, pollMs: 1_000 });
  shims.push(shim);
  useQueueTestRunner(new MemoizingRunner({ blobRoot: tempDir().uri, shim, waitInitialMs: 50, waitMaxMs: 250 }));
  const probe = new Queue(queueName, { connection: { host: '127.0.0.1', port: redis.port } });
  return {
    cutOff,
    probe,
    executions: () => readFileSync(log, 'utf8').split('\n').filter(Boolean),
    /** A worker on Redis' side of the link. */
    startConnected: async () => {
      const w = await startWorker(`${redis.url}/${queueName}`, WORKER_ARGS, env);
      workers.push(w);
      return w;
    },
    open: (pid: number) => writeFileSync(path.join(logDir, String(pid)), ''),
  };
}

async function metaOutcomes(memoUri: string): Promise<string[]> {
  const store = lookupBlobStore(memoUri);
  const outcomes: string[] = [];
  for await (const uri of store.list(`${memoUri}/meta/`))
    outcomes.push((JSON.parse(new TextDecoder().decode(await store.get(uri))) as { outcome: string }).outcome);
  return outcomes.sort();
}

/** `promise`, or a failure naming `what` after `ms`. */
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
  'a worker cut off from Redis finishes: the caller returns the stored result within a few store polls; after the link heals the job completes in Redis',
  async () => {
    const s = await setup('partition-result');
    try {
      const call = gated('cut-off');
      await until(() => s.executions().length === 1, 60_000, 'the cut-off worker to start the job');
      const memoUri = await gated.memoUri('cut-off');
      const lease = (await readLease(lookupBlobStore(memoUri), memoFile.lease(memoUri)))!.record;
      const jobId = queueJobId(memoUri, parseAttemptWriterId(lease.writerId)?.writerId ?? lease.writerId);
      link.cut();
      // The partition outlasts the worker's BullMQ lock (and the caller's store polls have backed
      // off to their longest period): once the link heals its report of the job is refused, the
      // job counts as stalled, and its re-run finds the result stored.
      const lockKey = `bull:partition-result:${jobId}:lock`;
      await until(
        () =>
          execFileSync('redis-cli', ['-p', String(redis.port), 'exists', lockKey])
            .toString()
            .trim() === '0',
        30_000,
        "the cut-off worker's lock to expire",
      );
      s.open(s.cutOff.pid); // it finishes and stores the result; Redis cannot hear of it
      expect(await within(call, 30_000, 'the call')).toEqual({ tag: 'cut-off', pid: s.cutOff.pid });
      const latencyMs = Date.now() - statSync(fileURLToPath(memoFile.result(memoUri))).mtimeMs;
      console.log(`partition: the caller returned ${latencyMs.toFixed(0)} ms after the result was stored`);
      expect(latencyMs).toBeLessThan(10_000); // a few store polls (2 s apart at most), not Redis' say

      link.heal();
      const healed = Date.now();
      await until(
        async () => (await s.probe.getJobState(jobId)) === 'completed',
        120_000,
        'the job to complete in Redis',
      );
      console.log(`partition: the job completed in Redis ${Date.now() - healed} ms after the link healed`);
      expect(await metaOutcomes(memoUri)).toEqual(['result']); // ran once, stored once
    } finally {
      await s.probe.close();
    }
  },
  180_000,
);

test.skipIf(skip)(
  "BullMQ re-runs the cut-off worker's job elsewhere: the cut-off run, finishing later, stores nothing; the re-run's result is the one",
  async () => {
    const s = await setup('partition-fence');
    try {
      const call = gated('fenced');
      await until(() => s.executions().length === 1, 60_000, 'the cut-off worker to start the job');
      const memoUri = await gated.memoUri('fenced');
      const store = lookupBlobStore(memoUri);
      link.cut();
      const connected = await s.startConnected();
      // The cut-off worker cannot renew its lock: the connected one finds the job stalled and runs it.
      await until(() => s.executions().length === 2, 60_000, 'BullMQ to re-run the stalled job');
      expect(s.executions()[1]).toBe(`gated "fenced" ${connected.pid}`);
      expect((await readLease(store, memoFile.lease(memoUri)))!.record.writerId).toMatch(/#a2$/);

      s.open(s.cutOff.pid); // the cut-off run ends while the caller still holds its lease
      await until(
        async () => (await metaOutcomes(memoUri)).includes('lease-lost'),
        30_000,
        'the cut-off run to find its lease taken',
      );
      expect(await store.head(memoFile.result(memoUri))).toBeNull();
      expect(await store.head(memoFile.error(memoUri))).toBeNull();

      s.open(connected.pid);
      expect(await within(call, 30_000, 'the call')).toEqual({ tag: 'fenced', pid: connected.pid });
      link.heal();
      const writerId = parseAttemptWriterId(
        (await readLease(store, memoFile.lease(memoUri)))!.record.writerId,
      )!.writerId;
      expect(await s.probe.getJobState(queueJobId(memoUri, writerId))).toBe('completed');
      expect(await metaOutcomes(memoUri)).toEqual(['lease-lost', 'result']);
    } finally {
      await s.probe.close();
    }
  },
  180_000,
);
