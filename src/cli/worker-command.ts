import { parseArgs } from 'node:util';
import { UsageError } from './usage-error.js';
import { startQueueWorker, type QueueWorkerJobEnd } from '../shims/queue/queue-worker.js';

export const WORKER_USAGE = `  worker --queue <redis-url> [--concurrency N] [--lock-ms MS] [--stalled-interval-ms MS]
         [--shutdown-grace-ms MS]
                                    a warm worker for queue() shims: runs queued invocations in
                                    this process (redis://host:port[/db]/<queue name>); on SIGTERM,
                                    SIGINT or SIGHUP it finishes its running jobs (up to the grace,
                                    default 30 000 ms), then exits
`;

const positiveInt = (flag: string, text: string | undefined, fallback: number): number => {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new UsageError(`${flag} must be a whole number ≥ 1, got ${JSON.stringify(text)}`);
  return value;
};

/**
 * `memocall worker --queue <redis-url> ...`: runs until told to stop, then exits the process
 * itself (a job's function may leave timers or sockets open that would keep it alive).
 */
export async function workerCommand(args: string[]): Promise<number> {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        queue: { type: 'string' },
        concurrency: { type: 'string' },
        'lock-ms': { type: 'string' },
        'stalled-interval-ms': { type: 'string' },
        'shutdown-grace-ms': { type: 'string' },
      },
    }) as { values: Record<string, string | undefined> });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (!values.queue) throw new UsageError('worker needs --queue <redis-url>');
  const concurrency = positiveInt('--concurrency', values.concurrency, 1);
  const graceMs = positiveInt('--shutdown-grace-ms', values['shutdown-grace-ms'], 30_000);
  const lockDurationMs = positiveInt('--lock-ms', values['lock-ms'], 30_000);
  const stalledIntervalMs = positiveInt('--stalled-interval-ms', values['stalled-interval-ms'], 30_000);

  // A long-lived process running users' code: an error escaping a function's own promise chain
  // (a throwing timer callback) is reported, not fatal to the jobs of everyone else.
  process.on('uncaughtException', (err) =>
    process.stderr.write(`memocall worker: uncaught exception in a job's code: ${err.stack ?? err.message}\n`),
  );
  process.on('unhandledRejection', (reason) =>
    process.stderr.write(
      `memocall worker: unhandled rejection in a job's code: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}\n`,
    ),
  );

  keepGenericTerminationHandlersAway();
  const worker = await startQueueWorker({
    connection: values.queue,
    concurrency,
    lockDurationMs,
    stalledIntervalMs,
    onJobEnd: report,
  });
  process.stdout.write(
    `memocall worker ${process.pid}: listening on queue ${worker.queueName} (concurrency ${concurrency})\n`,
  );

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`memocall worker: ${signal} again, exiting now\n`);
        process.exit(1);
      }
      stopping = true;
      process.stderr.write(
        `memocall worker: ${signal}: finishing ${worker.running} running job(s), at most ${graceMs} ms\n`,
      );
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
 * memocall's generic signal handler (runner/termination.ts, installed when a run first adopts a
 * lease) treats a signal as "this process dies now": it stops maintaining the leases its runs
 * adopted, which fences those runs, so they would store nothing. A worker's shutdown is graceful
 * instead: the leases are its callers', and the running jobs are to finish. The worker's own
 * handlers (in workerCommand) are the only ones: any other signal listener is taken off as soon as it is
 * added (a worker process runs nothing but jobs).
 */
function keepGenericTerminationHandlersAway(): void {
  process.on('newListener', (event, listener: (...args: unknown[]) => void) => {
    if (!SIGNALS.has(event) || ownHandlers.has(listener)) return;
    queueMicrotask(() => process.removeListener(event, listener));
  });
}

const ownHandlers = new Set<unknown>();

/** Only the unusual is worth a line: memocall failures and runs that found their lease gone. */
function report(end: QueueWorkerJobEnd): void {
  if ('error' in end) {
    process.stderr.write(
      `memocall worker: job ${end.jobId} (${end.memoUri}) failed in memocall: ${end.error.stack ?? end.error.message}\n`,
    );
  } else if (end.report.status === 'lease-lost' || end.report.status === 'lost-race') {
    process.stderr.write(`memocall worker: job ${end.jobId}: ${end.report.status}: ${end.report.detail}\n`);
  }
}
