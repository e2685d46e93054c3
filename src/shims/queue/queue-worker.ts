import { debuglog } from 'node:util';
import type { Job, Worker } from 'bullmq';
import type { QueueRedisOptions as RedisOptions } from './queue-redis-options.js';
import { ConfigurationError } from '../../core/configuration-error.js';
import { importOptionalDependency } from '../../core/optional-dependency.js';
import { queueLocation } from './queue-connection.js';
import { QUEUE_JOB_NAME, type QueueJobData, type QueueJobResult } from './queue-job.js';
import { runAsQueueJob } from './queue-nesting.js';
import { claimLeaseForAttempt } from './attempt-lease.js';
import { runInvocation, type RunReport } from '../../execute/remote-entry.js';
import { parseRunArgv } from '../../protocol/run-argv.js';

const debug = debuglog('memocall');

export interface QueueWorkerOptions {
  /** Redis: `redis://host:port[/db]/<queue name>`, or ioredis options. */
  connection: string | RedisOptions;
  /** The queue's name; overrides the URL's. Default: the URL's, else `'memocall'`. */
  name?: string;
  /** Prefix of BullMQ's Redis keys, as the callers'. Default `'bull'`. */
  prefix?: string;
  /** Jobs this worker runs at once (in this process: async functions overlap, CPU work does not). Default 1. */
  concurrency?: number;
  /**
   * A job whose worker has not renewed its lock for this long counts as stalled (the worker
   * died) and is given to another worker. Renewed every half of it. Default 30 000 ms.
   */
  lockDurationMs?: number;
  /** How often this worker looks for stalled jobs (of any worker). Default 30 000 ms. */
  stalledIntervalMs?: number;
  /** A job found stalled more often than this fails instead (`QueueJobFailedError`). Default 2. */
  maxStalledCount?: number;
  /** Hears of each job this worker ends (for logs). */
  onJobEnd?: (event: QueueWorkerJobEnd) => void;
  /** Hears of connection errors (Redis unreachable); the worker keeps reconnecting by itself. */
  onError?: (error: Error) => void;
}

export type QueueWorkerJobEnd =
  | { jobId: string; memoUri: string; report: RunReport; durationMs: number }
  | { jobId: string; memoUri: string; error: Error; durationMs: number };

export interface QueueWorker {
  readonly queueName: string;
  /** Jobs running now. */
  readonly running: number;
  /**
   * Stops taking jobs, waits for the running ones to end and closes the Redis connections.
   * After `graceMs` (default: no limit) it stops waiting: the process should then exit, so that
   * the jobs' locks expire and other workers re-run them (fenced by the callers' leases).
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * Runs queued invocations (see `queue()`) in this process: each job is `runInvocation` of its
 * memo URI under its caller's writer id, so modules stay imported between jobs (warm). The
 * user's errors are stored and the job completes; only memocall's own failures fail the job
 * (retried by BullMQ up to the caller's `attempts`). A worker that dies mid-job loses its lock;
 * BullMQ's stalled-job check gives the job to another worker, whose run is fenced by the
 * caller's lease: it runs only while that lease is the caller's, and the first result stored wins.
 */
export async function startQueueWorker(options: QueueWorkerOptions): Promise<QueueWorker> {
  const location = queueLocation(options.connection, options.name);
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new ConfigurationError(`concurrency must be a whole number ≥ 1, got ${concurrency}`);
  const lockDuration = options.lockDurationMs ?? 30_000;
  const stalledInterval = options.stalledIntervalMs ?? 30_000;
  for (const [key, value] of [
    ['lockDurationMs', lockDuration],
    ['stalledIntervalMs', stalledInterval],
  ] as const) {
    if (!Number.isFinite(value) || value <= 0)
      throw new ConfigurationError(`${key} must be a positive number of milliseconds, got ${value}`);
  }
  const { Worker } = await importOptionalDependency(['bullmq', 'ioredis'], 'a queue worker', () => import('bullmq'));
  let running = 0;

  const processJob = async (job: Job<QueueJobData, QueueJobResult>): Promise<QueueJobResult> => {
    if (job.name !== QUEUE_JOB_NAME) throw new ConfigurationError(`not a memocall job: ${job.name}`);
    const started = Date.now();
    const memoUri = job.data.memoUri;
    running++;
    try {
      const request = parseRunArgv(job.data.argv);
      // A re-run of the job (BullMQ's `attemptsStarted` > 1: the first run's worker stopped
      // renewing its lock, or memocall failed in it) takes the lease over under its own id, so
      // the first run, should it wake up, is fenced out. The first run needs no write of its own.
      const attempt = job.attemptsStarted;
      if (request.writerId !== undefined && attempt > 1)
        request.writerId = await claimLeaseForAttempt(request.memoUri, request.writerId, attempt);
      const report = await runAsQueueJob(() => runInvocation(request));
      options.onJobEnd?.({ jobId: job.id ?? '', memoUri, report, durationMs: Date.now() - started });
      return { status: report.status, runId: report.runId };
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      options.onJobEnd?.({ jobId: job.id ?? '', memoUri, error, durationMs: Date.now() - started });
      throw error;
    } finally {
      running--;
    }
  };

  const worker: Worker<QueueJobData, QueueJobResult> = new Worker<QueueJobData, QueueJobResult>(
    location.name,
    processJob,
    {
      connection: { ...location.redis },
      prefix: options.prefix ?? 'bull',
      concurrency,
      lockDuration,
      stalledInterval,
      maxStalledCount: options.maxStalledCount ?? 2,
      autorun: false,
    },
  );
  // Without a listener an 'error' event would end the process; ioredis reconnects by itself.
  worker.on('error', (err) => {
    debug('queue worker %s: %s', location.name, err);
    options.onError?.(err);
  });
  void worker.run().catch((err: unknown) => debug('queue worker %s stopped: %s', location.name, err));
  await worker.waitUntilReady();

  let closing: Promise<void> | undefined;
  return {
    queueName: location.name,
    get running() {
      return running;
    },
    close(graceMs?: number) {
      closing ??= (async () => {
        const graceful = worker.close();
        if (graceMs === undefined) return graceful;
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
        await Promise.race([graceful, late]);
        clearTimeout(timer);
        // Out of time: the running jobs are left behind. Once this process exits their locks
        // expire and other workers re-run them.
        graceful.catch(() => undefined);
      })();
      return closing;
    },
  };
}
