import type { V1Job } from '@kubernetes/client-node';
import { jobEnd, type JobEnd } from './job-state.js';
import type { JobWatchHub } from './job-watch-hub.js';
import type { KubeJobs } from './kube-jobs.js';

/** How waiting for a Job ended: its terminal condition, or the Job disappeared. */
export type JobOutcome = JobEnd | { kind: 'vanished' };

export interface JobWaitOptions {
  /** On abort the wait rejects with the signal's reason (the Job itself is left alone). */
  signal?: AbortSignal;
}

/**
 * Waits for a Job to end, hearing about it through the shim's shared watch (`hub`: one watch and
 * one backup LIST for all waiting calls) after one direct read, which tells whether the Job is
 * there at all. Whichever sighting shows the end first settles the wait; every later one is
 * ignored, so settling happens exactly once (mops: two paths settling one future killed a
 * pipeline, 10.3 #8). A watch refused with 401/403 rejects the wait with that K8sApiError.
 */
export function waitForJobEnd(
  jobs: KubeJobs,
  hub: JobWatchHub,
  name: string,
  options: JobWaitOptions = {},
): Promise<JobOutcome> {
  return new Promise<JobOutcome>((resolve, reject) => {
    const { signal } = options;
    let settled = false;
    let unsubscribe: (() => void) | undefined;
    const finish = (settle: () => void) => {
      if (settled) return;
      settled = true;
      unsubscribe?.();
      signal?.removeEventListener('abort', onAbort);
      settle();
    };
    const onAbort = () => finish(() => reject(signal?.reason));
    const offer = (job: V1Job | undefined) => {
      if (!job) return finish(() => resolve({ kind: 'vanished' }));
      const end = jobEnd(job);
      if (end) finish(() => resolve(end));
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    // Subscribed before the read: nothing that happens after it can be missed.
    unsubscribe = hub.subscribe(name, {
      job: (job) => offer(job),
      deleted: () => offer(undefined),
      refused: (err) => finish(() => reject(err)),
    });
    jobs.get(name).then(offer, (err: unknown) => finish(() => reject(err)));
  });
}
