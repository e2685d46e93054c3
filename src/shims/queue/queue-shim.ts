import { debuglog } from 'node:util';
import type { Queue, QueueEvents } from 'bullmq';
import type { QueueRedisOptions as RedisOptions } from './queue-redis-options.js';
import { lookupBlobStore } from '../../blobstore/registry.js';
import { abortErrorOf, throwIfAborted } from '../../execute/call-signal.js';
import { ConfigurationError } from '../../core/configuration-error.js';
import { importOptionalDependency } from '../../core/optional-dependency.js';
import { memoFile } from '../../protocol/memo-uri.js';
import { runArgv } from '../../protocol/run-argv.js';
import { queueLocation, type QueueLocation } from './queue-connection.js';
import { QueueConnectionError, QueueJobFailedError, QueueJobLostError } from './errors.js';
import { QUEUE_JOB_NAME, queueJobId, type QueueJobData, type QueueJobResult } from './queue-job.js';
import { insideQueueJob } from './queue-nesting.js';
import { runInvocation } from '../../execute/remote-entry.js';
import type { Shim, ShimContext, ShimRequest } from '../shim.js';

const debug = debuglog('memocall');

export interface QueueOptions {
  /** Redis: `redis://host:port[/db]/<queue name>` (`rediss://` for TLS), or ioredis options. */
  connection: string | RedisOptions;
  /** The queue's name; overrides the URL's. Default: the URL's last path segment, else `'memocall'`. */
  name?: string;
  /** Prefix of BullMQ's Redis keys; workers must use the same. Default `'bull'`. */
  prefix?: string;
  /**
   * Runs of a job when memocall itself fails in the worker (a storage hiccup, a missing module):
   * infrastructure retries, 1 s apart and doubling. The user's errors are never retried. Default 3.
   */
  attempts?: number;
  /**
   * A call made inside a queued job (a nested call): `'in-worker'` (default) runs it in that
   * worker's process, `'enqueue'` queues it like any call. Enqueueing spreads nested work over
   * the pool but deadlocks once every worker slot holds a parent waiting for its children: use it
   * only with more slots than the nesting can ever fill.
   */
  nested?: 'in-worker' | 'enqueue';
  /**
   * A call fails with `QueueConnectionError` when Redis cannot be reached within this long (the
   * connections keep retrying in the background otherwise). Default 10 000 ms. Once connected,
   * a call waiting for its job rides out a Redis outage (abort it to stop waiting).
   */
  connectTimeoutMs?: number;
  /** Besides listening for job events, each waiting call checks its job this often. Default 10 000 ms. */
  pollMs?: number;
  /**
   * Each waiting call also looks in the blob store for its outcome (one `head` of `result` and
   * of `error`), first after 250 ms, then backing off to this period: a result is returned once
   * stored even when Redis cannot tell (a worker cut off from Redis finished). Default 2 000 ms.
   */
  storePollMaxMs?: number;
  /** Redis connections are closed after this long without calls (so a finished program can exit). Default 1 000 ms. */
  idleCloseMs?: number;
  /** Finished jobs stay in Redis this long (for `getJob` and dashboards). Default 3 600 s. */
  keepFinishedSeconds?: number;
}

/** The queue shim: a Shim that also closes its Redis connections on demand. */
export interface QueueShim extends Shim {
  readonly queueName: string;
  /** Closes the Redis connections now (reopened by the next call); calls still waiting fail. */
  close(): Promise<void>;
}

/**
 * A shim that puts each invocation on a BullMQ queue in Redis, where warm workers (`memocall
 * worker --queue <redis-url>`, on any number of machines) run it, and resolves when the job has
 * finished, whatever the function's outcome (read from storage). It rejects with a
 * `QueueJobFailedError` when memocall failed in the worker (after `attempts`) or the job stalled
 * too often, `QueueJobLostError` when the job vanished from Redis, and a Redis error when Redis
 * cannot be reached.
 *
 * The job carries only `memocall run`'s argv (`run <memo-uri> --writer-id=<id>`, it crosses to another process): the worker's run is fenced
 * by the caller's lease, so a job re-run after its worker died (BullMQ's stalled-job recovery)
 * can never store a result once that lease has moved on, and the first result stored wins.
 * On abort, a job still waiting is removed from the queue; a running one is left to the fence
 * (the caller releases its lease: the run stops at its next lease check, writing nothing).
 *
 * Nothing connects until the first call (bullmq is loaded only then).
 */
export function queue(options: QueueOptions): QueueShim {
  if (!options || options.connection === undefined)
    throw new ConfigurationError(
      'queue({ connection }) needs a Redis URL (redis://host:port/queue-name) or ioredis options',
    );
  const attempts = options.attempts ?? 3;
  if (!Number.isInteger(attempts) || attempts < 1)
    throw new ConfigurationError(`queue({ attempts }) must be a whole number ≥ 1, got ${attempts}`);
  for (const key of ['pollMs', 'storePollMaxMs', 'idleCloseMs', 'keepFinishedSeconds', 'connectTimeoutMs'] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isFinite(value) || value < 0))
      throw new ConfigurationError(`queue({ ${key} }) must be a number ≥ 0, got ${value}`);
  }
  const nested = options.nested ?? 'in-worker';
  const client = new QueueClient(queueLocation(options.connection, options.name), {
    prefix: options.prefix ?? 'bull',
    attempts,
    pollMs: options.pollMs ?? 10_000,
    storePollMaxMs: Math.max(options.storePollMaxMs ?? 2_000, 10),
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    idleCloseMs: options.idleCloseMs ?? 1_000,
    keepFinishedSeconds: options.keepFinishedSeconds ?? 3_600,
  });
  const shim = (async (request: ShimRequest, ctx: ShimContext) => {
    if (nested === 'in-worker' && insideQueueJob()) {
      await runInvocation({ memoUri: request.memoUri, writerId: request.writerId });
      return;
    }
    await client.run(request, ctx);
  }) as QueueShim;
  Object.defineProperty(shim, 'queueName', { value: client.location.name, enumerable: true });
  shim.close = () => client.close();
  return shim;
}

interface ClientSettings {
  prefix: string;
  attempts: number;
  pollMs: number;
  storePollMaxMs: number;
  connectTimeoutMs: number;
  idleCloseMs: number;
  keepFinishedSeconds: number;
}

interface Connected {
  queue: Queue;
  events: QueueEvents;
  close(): Promise<void>;
}

type Finished =
  | { kind: 'completed'; result: QueueJobResult | undefined }
  | { kind: 'failed'; reason: string }
  | { kind: 'lost' }
  | { kind: 'stored' }
  | { kind: 'closed' };

/** A call waiting for its job; `stop` ends the wait (its listeners and timer) without settling. */
interface JobWait {
  promise: Promise<Finished>;
  stop(): void;
}

/** One queue's connections, shared by every call of a shim, opened on demand and closed when idle. */
class QueueClient {
  private connection: Promise<Connected> | undefined;
  private pending = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Per job id, the calls waiting for it. */
  private readonly waiters = new Map<string, Set<(finished: Finished) => void>>();
  /** Per job id, a check of its state now. */
  private readonly checks = new Map<string, () => void>();
  /** Connections being closed (each settles within CLOSE_BUDGET_MS). */
  private readonly closings = new Set<Promise<void>>();

  constructor(
    readonly location: QueueLocation,
    private readonly settings: ClientSettings,
  ) {}

  async run(request: ShimRequest, ctx: ShimContext): Promise<void> {
    const { functionId, signal } = ctx;
    const { memoUri, writerId } = request;
    throwIfAborted(signal, memoUri);
    const jobId = queueJobId(memoUri, writerId);
    this.pending++;
    clearTimeout(this.idleTimer);
    let connected: Connected | undefined;
    let waiting: JobWait | undefined;
    try {
      connected = await this.connect();
      // What the store holds before the job can run: an error of an earlier run is not this job's
      // outcome. Read alongside the add, off the call's path (the job's run takes several store
      // round trips before it writes); without it, the call listens to Redis only.
      const before = storedOutcome(memoUri);
      before.catch((err: unknown) => debug('queue: reading the outcome of %s failed: %s', memoUri, err));
      waiting = this.waitFor(connected, jobId, memoUri, before, signal);
      // Listening before adding: a fast job's `completed` event cannot be missed.
      const { keepFinishedSeconds, attempts } = this.settings;
      const data: QueueJobData = { argv: runArgv({ memoUri, writerId }), memoUri, functionId };
      await connected.queue.add(QUEUE_JOB_NAME, data, {
        jobId,
        attempts,
        backoff: { type: 'exponential', delay: 1_000 },
        removeOnComplete: { age: keepFinishedSeconds },
        removeOnFail: { age: keepFinishedSeconds },
      });
      const finished = await waiting.promise;
      if (finished.kind === 'failed') throw new QueueJobFailedError(memoUri, jobId, finished.reason);
      if (finished.kind === 'lost' && !(await outcomeStored(memoUri))) throw new QueueJobLostError(memoUri, jobId);
      if (finished.kind === 'closed')
        throw new ConfigurationError(`${memoUri}: the queue shim was closed while this call waited for job ${jobId}`);
    } catch (err) {
      if (signal?.aborted) {
        // Waiting: removed, it never runs. Running (locked): the released lease fences it.
        if (connected) await connected.queue.remove(jobId).catch(() => 0);
        throw abortErrorOf(signal, memoUri);
      }
      throw err;
    } finally {
      waiting?.stop(); // whatever happened (the add failed...), no listener or timer stays behind
      if (--this.pending === 0) {
        this.idleTimer = setTimeout(() => void this.closeIfIdle(), this.settings.idleCloseMs);
      }
    }
  }

  /**
   * Resolves when the job has finished: its event, a check on a `duplicated` event (the job was
   * added before, and may have finished before we listened), or the periodic check. Settles once.
   */
  private waitFor(
    connected: Connected,
    jobId: string,
    memoUri: string,
    before: Promise<StoredOutcome>,
    signal: AbortSignal | undefined,
  ): JobWait {
    let stop: () => void = () => {};
    const promise = new Promise<Finished>((resolve, reject) => {
      let settled = false;
      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        if (this.checks.get(jobId) === check) this.checks.delete(jobId);
        const set = this.waiters.get(jobId);
        set?.delete(onFinished);
        if (set?.size === 0) this.waiters.delete(jobId);
        clearInterval(poll);
        clearTimeout(storePoll);
        signal?.removeEventListener('abort', onAbort);
        settle();
      };
      const onFinished = (finished: Finished) => finish(() => resolve(finished));
      const onAbort = () => finish(() => reject(signal!.reason));
      const check = () => {
        inspectJob(connected.queue, jobId).then(
          (finished) => finished && onFinished(finished),
          (err: unknown) => debug('queue: checking job %s failed: %s', jobId, err),
        );
      };
      stop = () => finish(() => undefined);
      this.checks.set(jobId, check);
      let set = this.waiters.get(jobId);
      if (!set) this.waiters.set(jobId, (set = new Set()));
      set.add(onFinished);
      const poll = setInterval(check, this.settings.pollMs);
      // The store is the outcome's one channel: Redis may not hear of it (a worker cut off from
      // Redis that finished), so look there too, cheaply and backing off.
      let storePoll: NodeJS.Timeout | undefined;
      const lookInStore = (delayMs: number) => {
        storePoll = setTimeout(() => {
          Promise.all([before, storedOutcome(memoUri)]).then(
            ([was, now]) => {
              if (settled) return;
              if (outcomeChanged(was, now)) onFinished({ kind: 'stored' });
              else lookInStore(Math.min(delayMs * 2, this.settings.storePollMaxMs));
            },
            (err: unknown) => {
              debug('queue: looking for the outcome of %s failed: %s', memoUri, err);
              if (!settled) lookInStore(this.settings.storePollMaxMs);
            },
          );
        }, delayMs);
      };
      before.then(
        () => !settled && lookInStore(Math.min(FIRST_STORE_POLL_MS, this.settings.storePollMaxMs)),
        () => undefined,
      );
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
    // An abort while the job is being added is seen when the promise is awaited, not before.
    promise.catch(() => undefined);
    return { promise, stop: () => stop() };
  }

  private recheck(jobId: string): void {
    this.checks.get(jobId)?.();
  }

  private deliver(jobId: string, finished: Finished): void {
    for (const waiter of [...(this.waiters.get(jobId) ?? [])]) waiter(finished);
  }

  private connect(): Promise<Connected> {
    this.connection ??= this.open();
    // A failed connection is reported to its calls; the next call tries again.
    this.connection.catch(() => (this.connection = undefined));
    return this.connection;
  }

  private async open(): Promise<Connected> {
    const { Queue, QueueEvents } = await importOptionalDependency(
      ['bullmq', 'ioredis'],
      'the queue() shim',
      () => import('bullmq'),
    );
    const { name, redis } = this.location;
    const { prefix } = this.settings;
    // Once these connections are given up, they must stop reconnecting (ioredis retries forever
    // by default, which would keep the process alive and make close() wait for a connection).
    let givenUp = false;
    const retry = redis.retryStrategy;
    const connection = {
      ...redis,
      retryStrategy: (times: number) => (givenUp ? null : retry ? retry(times) : Math.min(times * 100, 2_000)),
    };
    const queue: Queue = new Queue(name, { connection, prefix });
    const events = new QueueEvents(name, { connection: { ...connection }, prefix });
    const closeBoth = async () => {
      givenUp = true;
      await settledWithin([events.close(), queue.close()], CLOSE_BUDGET_MS);
    };
    // Without listeners an 'error' event would crash the process; ioredis reconnects by itself.
    queue.on('error', (err) => debug('queue %s: %s', name, err));
    events.on('error', (err) => debug('queue events %s: %s', name, err));
    events.on('completed', ({ jobId, returnvalue }) =>
      this.deliver(jobId, { kind: 'completed', result: returnvalue as unknown as QueueJobResult }),
    );
    events.on('failed', ({ jobId, failedReason }) => this.deliver(jobId, { kind: 'failed', reason: failedReason }));
    events.on('removed', ({ jobId }) => this.deliver(jobId, { kind: 'lost' }));
    // The same job added again (the same lease holder retrying): it may have finished long ago.
    events.on('duplicated', ({ jobId }) => this.recheck(jobId));
    const { connectTimeoutMs } = this.settings;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new QueueConnectionError(name, `${redis.host ?? '127.0.0.1'}:${redis.port ?? 6379}`, connectTimeoutMs),
          ),
        connectTimeoutMs,
      );
    });
    try {
      await Promise.race([Promise.all([queue.waitUntilReady(), events.waitUntilReady()]), timeout]);
    } catch (err) {
      await closeBoth();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return { queue, events, close: closeBoth };
  }

  private async closeIfIdle(): Promise<void> {
    if (this.pending === 0) await this.close();
  }

  /**
   * Closes the connections now; calls still waiting fail (they could not hear of their jobs any
   * more). Settles within about CLOSE_BUDGET_MS (plus the connect timeout of a connection still
   * opening), however Redis is doing; a second call waits for the same closing.
   */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    for (const jobId of [...this.waiters.keys()]) this.deliver(jobId, { kind: 'closed' });
    const connection = this.connection;
    this.connection = undefined;
    if (connection) {
      const closing = connection.then(
        (connected) => connected.close(),
        () => undefined,
      );
      this.closings.add(closing);
      void closing.finally(() => this.closings.delete(closing));
    }
    await Promise.all([...this.closings]);
  }
}

/** The job's end as Redis has it now, or undefined while it waits or runs. */
async function inspectJob(queue: Queue, jobId: string): Promise<Finished | undefined> {
  const job = await queue.getJob(jobId);
  if (!job) return { kind: 'lost' };
  const state = await job.getState();
  if (state === 'completed') return { kind: 'completed', result: job.returnvalue as QueueJobResult | undefined };
  if (state === 'failed') return { kind: 'failed', reason: job.failedReason };
  if (state === 'unknown') return { kind: 'lost' };
  return undefined;
}

/**
 * How long closing a queue's connections may take. BullMQ's close waits for its connection's
 * `end` event, which ioredis never emits for a connection closed while it waits to reconnect
 * (Redis unreachable): without a bound, `await shim.close()` never settled and, nothing else
 * keeping the process alive, Node exited with 13 (an unsettled top-level await).
 */
const CLOSE_BUDGET_MS = 2_000;

/** Waits for `closings` to settle, for at most `budgetMs` (a timer that keeps the process alive until then). */
async function settledWithin(closings: Promise<unknown>[], budgetMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, budgetMs)));
  try {
    await Promise.race([Promise.allSettled(closings), late]);
  } finally {
    clearTimeout(timer);
  }
  for (const closing of closings) closing.catch((err: unknown) => debug('queue: closing failed: %s', err));
}

/** The first look in the store for a waiting call's outcome. */
const FIRST_STORE_POLL_MS = 250;

/** The versions of `result` and `error` stored now (null: absent). */
interface StoredOutcome {
  result: string | null;
  error: string | null;
}

async function storedOutcome(memoUri: string): Promise<StoredOutcome> {
  const store = lookupBlobStore(memoUri);
  const [result, error] = await Promise.all([
    store.head(memoFile.result(memoUri)),
    store.head(memoFile.error(memoUri)),
  ]);
  return { result: result?.etag ?? null, error: error?.etag ?? null };
}

/** A result or error written since `before` (a new version, not one an earlier run left). */
function outcomeChanged(before: StoredOutcome, now: StoredOutcome): boolean {
  return (now.result !== null && now.result !== before.result) || (now.error !== null && now.error !== before.error);
}

async function outcomeStored(memoUri: string): Promise<boolean> {
  const now = await storedOutcome(memoUri);
  return now.result !== null || now.error !== null;
}
