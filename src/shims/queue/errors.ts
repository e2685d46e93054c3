import { MemocallError } from '../../core/memocall-error.js';

/**
 * The queued invocation failed as infrastructure: memocall itself failed in the worker (after the
 * job's retries), or the job stalled (its worker died) more often than allowed. Nothing was
 * stored by it; the next call runs again. The user's own errors are never this: they are stored
 * and re-thrown as `RemoteError`.
 */
export class QueueJobFailedError extends MemocallError {
  readonly memoUri: string;
  readonly jobId: string;
  /** What the worker reported (BullMQ's `failedReason`). */
  readonly failedReason: string;

  constructor(memoUri: string, jobId: string, failedReason: string) {
    super('MEMOCALL_QUEUE_JOB_FAILED', `${memoUri}: queued job ${jobId} failed in the worker: ${failedReason}`);
    this.memoUri = memoUri;
    this.jobId = jobId;
    this.failedReason = failedReason;
  }
}

/** The queued job disappeared from Redis before it finished (removed by someone, or Redis lost it). */
export class QueueJobLostError extends MemocallError {
  readonly memoUri: string;
  readonly jobId: string;

  constructor(memoUri: string, jobId: string) {
    super(
      'MEMOCALL_QUEUE_JOB_LOST',
      `${memoUri}: queued job ${jobId} vanished from the queue before it finished, and it stored no outcome`,
    );
    this.memoUri = memoUri;
    this.jobId = jobId;
  }
}

/** Redis could not be reached in time (`queue({ connectTimeoutMs })`). */
export class QueueConnectionError extends MemocallError {
  constructor(queueName: string, where: string, timeoutMs: number, cause?: unknown) {
    super(
      'MEMOCALL_QUEUE_CONNECTION',
      `queue ${queueName}: Redis at ${where} did not answer within ${timeoutMs} ms`,
      cause === undefined ? undefined : { cause },
    );
  }
}
