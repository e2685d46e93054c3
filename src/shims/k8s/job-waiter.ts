import type { V1Job } from '@kubernetes/client-node';
import { jobEnd, type JobEnd } from './job-state.js';
import type { JobWatchEvent, KubeJobs } from './kube-jobs.js';

/** How waiting for a Job ended: its terminal condition, or the Job disappeared. */
export type JobOutcome = JobEnd | { kind: 'vanished' };

export interface JobWaitOptions {
  /** A watch that delivered nothing for this long is restarted. */
  watchdogMs: number;
  /** The Job is also read directly this often (the backup for a watch that is silently broken). */
  pollMs: number;
  /** On abort the wait rejects with the signal's reason (the Job itself is left alone). */
  signal?: AbortSignal;
}

/**
 * Waits for a Job to end: a watch on it, restarted when it ends (the server closes watches
 * every `watchdogMs`) or when it falls silent (a dead connection), plus a periodic direct read.
 * Whichever sees the end first settles the wait; every later sighting is ignored, so settling
 * happens exactly once (mops: two paths settling one future killed a pipeline, 10.3 #8). No
 * callback here may throw: a failing read or watch is retried, never fatal, except the first
 * read, which tells whether the Job is there at all.
 */
export function waitForJobEnd(jobs: KubeJobs, name: string, options: JobWaitOptions): Promise<JobOutcome> {
  return new JobWaiter(jobs, name, options).start();
}

class JobWaiter {
  private settled = false;
  private resolveWait!: (outcome: JobOutcome) => void;
  private rejectWait!: (err: unknown) => void;
  private resourceVersion: string | undefined;
  /** Incremented on every (re)start: events and ends of an older watch are ignored. */
  private generation = 0;
  private stopWatch: (() => void) | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Delay before re-watching after a watch failed; grows while failures repeat. */
  private failureDelayMs = 0;
  private readonly onAbort = () => this.finish(() => this.rejectWait(this.options.signal?.reason));

  constructor(
    private readonly jobs: KubeJobs,
    private readonly name: string,
    private readonly options: JobWaitOptions,
  ) {}

  start(): Promise<JobOutcome> {
    const promise = new Promise<JobOutcome>((resolve, reject) => {
      this.resolveWait = resolve;
      this.rejectWait = reject;
    });
    const { signal } = this.options;
    if (signal?.aborted) {
      this.onAbort();
      return promise;
    }
    signal?.addEventListener('abort', this.onAbort, { once: true });
    this.jobs.get(this.name).then(
      (job) => {
        this.offer(job);
        if (this.settled) return;
        this.pollTimer = setInterval(() => void this.read(), this.options.pollMs);
        this.watch();
      },
      (err: unknown) => this.finish(() => this.rejectWait(err)),
    );
    return promise;
  }

  /** A sighting of the Job (undefined: it does not exist any more). */
  private offer(job: V1Job | undefined): void {
    if (this.settled) return;
    if (!job) {
      this.finish(() => this.resolveWait({ kind: 'vanished' }));
      return;
    }
    this.noteVersion(job);
    const end = jobEnd(job);
    if (end) this.finish(() => this.resolveWait(end));
  }

  private noteVersion(job: V1Job): void {
    const version = job.metadata?.resourceVersion;
    if (version) this.resourceVersion = version;
  }

  private async read(): Promise<void> {
    try {
      this.offer(await this.jobs.get(this.name));
    } catch {
      // The next poll or the watch will tell.
    }
  }

  private watch(): void {
    if (this.settled) return;
    const generation = ++this.generation;
    this.armWatchdog(generation);
    const serverTimeout = Math.max(1, Math.floor(this.options.watchdogMs / 1000));
    this.jobs
      .watch(
        this.name,
        this.resourceVersion,
        serverTimeout,
        (event) => this.onEvent(generation, event),
        (err) => this.onWatchEnd(generation, err),
      )
      .then(
        (stop) => {
          if (generation === this.generation && !this.settled) this.stopWatch = stop;
          else stop(); // replaced (or settled) while connecting
        },
        (err: unknown) => this.onWatchEnd(generation, err),
      );
  }

  private onEvent(generation: number, event: JobWatchEvent): void {
    if (generation !== this.generation || this.settled) return;
    this.armWatchdog(generation);
    this.failureDelayMs = 0;
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED':
        this.offer(event.object);
        return;
      case 'DELETED':
        this.offer(undefined);
        return;
      case 'BOOKMARK':
        this.noteVersion(event.object);
        return;
      default:
        // An ERROR event (e.g. 410 Gone: our resourceVersion is too old): read afresh and re-watch.
        this.resourceVersion = undefined;
        this.restart(generation, 0);
    }
  }

  private onWatchEnd(generation: number, err: unknown): void {
    if (generation !== this.generation || this.settled) return;
    // The server closing a watch at its timeout is routine: re-watch at once. Failures back off.
    const delay = err ? (this.failureDelayMs = Math.min(5_000, Math.max(500, this.failureDelayMs * 2))) : 0;
    this.restart(generation, delay);
  }

  private armWatchdog(generation: number): void {
    clearTimeout(this.watchdog);
    // A little past the server-side timeout: a healthy watch is closed by the server first.
    this.watchdog = setTimeout(() => this.restart(generation, 0), this.options.watchdogMs + 1_000);
  }

  /** Ends the current watch, reads the Job (something may have been missed) and watches again. */
  private restart(generation: number, delayMs: number): void {
    if (generation !== this.generation || this.settled) return;
    this.generation++; // the old watch's late events and end are ignored from now on
    this.stopWatch?.();
    this.stopWatch = undefined;
    clearTimeout(this.watchdog);
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      void this.read().then(() => this.watch());
    }, delayMs);
  }

  private finish(settle: () => void): void {
    if (this.settled) return;
    this.settled = true;
    this.generation++;
    clearTimeout(this.watchdog);
    clearTimeout(this.restartTimer);
    clearInterval(this.pollTimer);
    this.stopWatch?.();
    this.stopWatch = undefined;
    this.options.signal?.removeEventListener('abort', this.onAbort);
    settle();
  }
}
