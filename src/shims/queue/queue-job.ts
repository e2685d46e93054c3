import { createHash } from 'node:crypto';
import type { RunStatus } from '../../protocol/run-request.js';

/** BullMQ's job name for every memocall invocation. */
export const QUEUE_JOB_NAME = 'memocall-run';

/**
 * What a queued job carries: only where the invocation is and who may write it. The blob store
 * is the one data channel (arguments and results never travel through Redis).
 */
export interface QueueJobData {
  /** `memocall run`'s argv (`['run', memoUri, '--writer-id=ID']`, see protocol/run-argv.ts). */
  argv: string[];
  memoUri: string;
  functionId: string;
}

/** What a worker reports for a job it ran to the end (the outcome itself is in storage). */
export interface QueueJobResult {
  status: RunStatus;
  runId: string;
}

/**
 * `<hash of the memo URI>.<writer id>`: one job per lease holder, so enqueueing the same
 * invocation twice under one lease (a retried shim call) is a no-op, while the next holder's
 * job is a new one. (BullMQ ids must not contain `:`; base64url writer ids do not.)
 */
export function queueJobId(memoUri: string, writerId: string): string {
  return `${createHash('sha256').update(memoUri).digest('hex').slice(0, 32)}.${writerId}`;
}
