import { MemocallError } from '../../core/memocall-error.js';

/**
 * The Job of an invocation failed as infrastructure: its pods kept failing with codes other than
 * the user-error one until `backoffLimit` was exhausted, it ran past `activeDeadlineSeconds`, or
 * the cluster failed it for another reason. Nothing was stored; the next call runs again.
 */
export class K8sJobFailedError extends MemocallError {
  readonly memoUri: string;
  readonly namespace: string;
  readonly jobName: string;
  /** The `reason` of the Job's `Failed` condition (`BackoffLimitExceeded`, `DeadlineExceeded`...). */
  readonly reason: string;

  constructor(memoUri: string, namespace: string, jobName: string, reason: string, detail: string) {
    super(
      'MEMOCALL_K8S_JOB_FAILED',
      `${memoUri}: Kubernetes Job ${namespace}/${jobName} failed (${reason}${detail ? `: ${detail}` : ''}); see \`kubectl logs -n ${namespace} job/${jobName}\``,
    );
    this.memoUri = memoUri;
    this.namespace = namespace;
    this.jobName = jobName;
    this.reason = reason;
  }
}

/** The Job disappeared (deleted by someone else) before it finished, and nothing was stored. */
export class K8sJobVanishedError extends MemocallError {
  readonly memoUri: string;
  readonly jobName: string;

  constructor(memoUri: string, namespace: string, jobName: string) {
    super(
      'MEMOCALL_K8S_JOB_VANISHED',
      `${memoUri}: Kubernetes Job ${namespace}/${jobName} was deleted before it finished, and it stored no outcome`,
    );
    this.memoUri = memoUri;
    this.jobName = jobName;
  }
}

/** A Kubernetes API call failed for good (after retries for transient failures). */
export class K8sApiError extends MemocallError {
  /** The HTTP status, when the API server answered. */
  readonly status: number | undefined;

  constructor(operation: string, detail: string, status: number | undefined, cause?: unknown) {
    super(
      'MEMOCALL_K8S_API',
      `Kubernetes API: ${operation} failed${status ? ` (HTTP ${status})` : ''}: ${detail}`,
      cause === undefined ? undefined : { cause },
    );
    this.status = status;
  }
}
