import { redactUri } from '../core/redact-uri.js';
import { queueLocation } from '../shims/queue/queue-connection.js';
import { startQueueWorker, type QueueWorkerJobEnd } from '../shims/queue/queue-worker.js';
import type { Output } from './output.js';
import { UsageError } from './usage-error.js';

export interface WorkerOptions {
  queue: string;
  concurrency: string;
  lockMs: string;
  stalledIntervalMs: string;
  shutdownGraceMs: string;
  verbose?: boolean;
}

const positiveInt = (flag: string, text: string): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new UsageError(`${flag} must be a whole number ≥ 1, got ${JSON.stringify(text)}`);
  return value;
};

/** How often an unreachable Redis is reported again (each reconnection attempt is not worth a line). */
const REPEAT_UNREACHABLE_MS = 10_000;

/**
 * `memocall worker --queue <redis-url> ...`: runs until told to stop, then exits the process
 * itself (a job's function may leave timers or sockets open that would keep it alive).
 */
export async function workerCommand(opts: WorkerOptions, output: Output): Promise<number> {
  const concurrency = positiveInt('--concurrency', opts.concurrency);
  const graceMs = positiveInt('--shutdown-grace-ms', opts.shutdownGraceMs);
  const lockDurationMs = positiveInt('--lock-ms', opts.lockMs);
  const stalledIntervalMs = positiveInt('--stalled-interval-ms', opts.stalledIntervalMs);
  const location = queueLocation(opts.queue); // a malformed URL fails here, its password redacted
  const redis = `${location.redis.host ?? '127.0.0.1'}:${location.redis.port ?? 6379}`;

  // A long-lived process running users' code: an error escaping a function's own promise chain
  // (a throwing timer callback) is reported, not fatal to the jobs of everyone else.
  process.on('uncaughtException', (err) =>
    output.warn('worker', `uncaught exception in a job's code: ${err.stack ?? err.message}`),
  );
  process.on('unhandledRejection', (reason) =>
    output.warn(
      'worker',
      `unhandled rejection in a job's code: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`,
    ),
  );

  // Redis unreachable: said at once, then every REPEAT_UNREACHABLE_MS while ioredis keeps retrying.
  let lastReported = 0;
  let connected = false;
  const onError = (err: Error) => {
    const now = Date.now();
    if (now - lastReported < REPEAT_UNREACHABLE_MS) return;
    lastReported = now;
    const code = (err as NodeJS.ErrnoException).code;
    output.warn(
      'worker',
      `${connected ? 'lost Redis at' : 'cannot reach Redis at'} ${redis} (${code ?? redactUri(err.message)}); retrying`,
    );
  };

  keepGenericTerminationHandlersAway();
  const worker = await startQueueWorker({
    connection: opts.queue,
    concurrency,
    lockDurationMs,
    stalledIntervalMs,
    onJobEnd: (end) => report(end, output, opts.verbose === true),
    onError,
  });
  connected = true;
  lastReported = 0;
  await output.line(
    `memocall worker ${process.pid}: listening on queue ${worker.queueName} at ${redis} (concurrency ${concurrency})`,
  );

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        output.warn('worker', `${signal} again, exiting now`);
        process.exit(1);
      }
      stopping = true;
      output.warn('worker', `${signal}: finishing ${worker.running} running job(s), at most ${graceMs} ms`);
      void worker.close(graceMs).finally(resolve);
    };
    ownHandlers.add(stop);
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGHUP', stop);
  });
  process.exit(0);
}

const SIGNALS = new Set<string | symbol>(['SIGTERM', 'SIGINT', 'SIGHUP']);

/**
 * memocall's generic signal handler (execute/termination.ts, installed when a run first adopts a
 * lease) treats a signal as "this process dies now": it stops maintaining the leases its runs
 * adopted, which fences those runs, so they would store nothing. A worker's shutdown is graceful
 * instead: the leases are its callers', and the running jobs are to finish. The worker's own
 * handlers (in workerCommand) are the only ones: any other signal listener is taken off as soon
 * as it is added (a worker process runs nothing but jobs).
 */
function keepGenericTerminationHandlersAway(): void {
  process.on('newListener', (event, listener: (...args: unknown[]) => void) => {
    if (!SIGNALS.has(event) || ownHandlers.has(listener)) return;
    queueMicrotask(() => process.removeListener(event, listener));
  });
}

const ownHandlers = new Set<unknown>();

/**
 * The unusual always gets a line (memocall failures, runs that found their lease gone); with
 * `--verbose`, every job does: its id, outcome, duration and memo URI.
 */
function report(end: QueueWorkerJobEnd, output: Output, verbose: boolean): void {
  if ('error' in end) {
    output.warn(
      'worker',
      `job ${end.jobId} (${end.memoUri}) failed in memocall: ${end.error.stack ?? end.error.message}`,
    );
  } else if (end.report.status === 'lease-lost' || end.report.status === 'lost-race') {
    output.warn('worker', `job ${end.jobId}: ${end.report.status}: ${end.report.detail}`);
  } else if (verbose) {
    void output.line(`memocall worker: job ${end.jobId}: ${end.report.status} in ${end.durationMs} ms: ${end.memoUri}`);
  }
}
