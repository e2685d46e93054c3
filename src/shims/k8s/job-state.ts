import type { V1Job } from '@kubernetes/client-node';

/** How a Job ended, read from its terminal conditions only. */
export type JobEnd =
  | { kind: 'complete' }
  /** The pod failure policy's FailJob rule fired: the exit code says the outcome is stored (or not ours to store). */
  | { kind: 'failed-by-policy'; message: string }
  /** Any other failure: retries exhausted, deadline exceeded... infrastructure. */
  | { kind: 'failed'; reason: string; message: string };

/**
 * The Job's end, or undefined while it runs. Only the terminal conditions `Complete` and `Failed`
 * with status `True` count (mops misread counters and reported false failures: 10.3 #15).
 * Intermediate ones (`FailureTarget`, `SuccessCriteriaMet`) are not the end yet: pods may
 * still be terminating.
 */
export function jobEnd(job: Pick<V1Job, 'status'>): JobEnd | undefined {
  for (const condition of job.status?.conditions ?? []) {
    if (condition.status !== 'True') continue;
    if (condition.type === 'Complete') return { kind: 'complete' };
    if (condition.type === 'Failed') {
      const reason = condition.reason ?? 'Failed';
      const message = condition.message ?? '';
      return reason === 'PodFailurePolicy'
        ? { kind: 'failed-by-policy', message }
        : { kind: 'failed', reason, message };
    }
  }
  return undefined;
}

/** True while the Job may still run a pod. */
export function isJobActive(job: Pick<V1Job, 'status' | 'metadata'>): boolean {
  return jobEnd(job) === undefined && !job.metadata?.deletionTimestamp;
}
