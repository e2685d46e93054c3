import type { V1Job } from '@kubernetes/client-node';
import { K8sApiError } from './errors.js';
import type { JobWatchEvent, KubeJobs } from './kube-jobs.js';

/** What a waiting call hears about its Job. */
export interface JobListener {
  /** A sighting of the Job (from the watch, or the backup LIST). */
  job(job: V1Job): void;
  /** The Job does not exist any more (a DELETED event, or absent from a LIST made after subscribing). */
  deleted(): void;
  /** The cluster refuses to let this identity watch Jobs (401/403): waiting cannot work. */
  refused(err: K8sApiError): void;
}

export interface JobWatchHubOptions {
  /** Selects memocall's Jobs in the namespace (the watch and the backup LIST). */
  labelSelector: string;
  /** A watch that delivered nothing (not even a bookmark) for this long is restarted. */
  watchdogMs: number;
  /** The Jobs are also LISTed this often (the backup for a watch that is silently broken). */
  pollMs: number;
}

/** Unproductive restarts back off from 0.5 s, doubling, to this. */
const MAX_DELAY_MS = 5_000;

interface Subscription {
  listener: JobListener;
  /** The LIST counter when it subscribed: only a LIST started later may say its Job is gone. */
  since: number;
}

/**
 * ONE watch on a namespace's memocall Jobs, shared by every waiting call of a shim (500 waiting
 * calls: one stream), plus one backup LIST every `pollMs`. It runs while anyone listens.
 *
 * Versions: it starts from a LIST's resourceVersion, follows every event's and bookmark's, and
 * after a 410 Gone (the version fell out of the server's watch cache, e.g. after an API server
 * restart) it LISTs again and watches from that LIST's version: three requests per expiry (the
 * refused watch, the LIST, the new watch). A single Job's own version is never used: it goes
 * stale during any long run. Only progress (an event or a bookmark) resets the back-off, so a
 * server that ends every watch at once is asked again after 0.5 s, 1 s, ... 5 s, never in a loop.
 * A watch refused with 401/403 is reported once, to every listener, and the hub stops: a later
 * call starts it again (e.g. after the RBAC was fixed).
 */
export class JobWatchHub {
  private readonly subscriptions = new Map<string, Set<Subscription>>();
  private running = false;
  private resourceVersion: string | undefined;
  /** Incremented on every (re)start and stop: callbacks of an older watch or LIST are ignored. */
  private generation = 0;
  private lists = 0;
  /** Restarts since the last progress (an event or a bookmark). */
  private unproductive = 0;
  private stopWatch: (() => void) | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly jobs: KubeJobs,
    private readonly options: JobWatchHubOptions,
  ) {}

  /** Hears about the Job `name` from now on; the returned function stops it. */
  subscribe(name: string, listener: JobListener): () => void {
    const subscription: Subscription = { listener, since: this.lists };
    let set = this.subscriptions.get(name);
    if (!set) this.subscriptions.set(name, (set = new Set()));
    set.add(subscription);
    if (!this.running) this.start();
    return () => {
      const current = this.subscriptions.get(name);
      if (!current?.delete(subscription)) return;
      if (current.size === 0) this.subscriptions.delete(name);
      if (this.subscriptions.size === 0) this.stop();
    };
  }

  private start(): void {
    this.running = true;
    this.unproductive = 0;
    this.resourceVersion = undefined;
    this.pollTimer = setInterval(() => void this.poll(), this.options.pollMs);
    void this.relist(++this.generation);
  }

  private stop(): void {
    this.running = false;
    this.generation++;
    clearTimeout(this.watchdog);
    clearTimeout(this.restartTimer);
    clearInterval(this.pollTimer);
    this.stopWatch?.();
    this.stopWatch = undefined;
  }

  /** LIST, tell every listener what it shows, and watch from its version. */
  private async relist(generation: number): Promise<void> {
    try {
      const list = await this.listAndDispatch();
      if (generation !== this.generation) return;
      this.resourceVersion = list;
      this.watch();
    } catch (err) {
      if (generation !== this.generation) return;
      if (err instanceof K8sApiError && (err.status === 401 || err.status === 403)) return this.refuse(err);
      this.restart(generation, 'relist', this.nextDelay());
    }
  }

  /** The backup read: catches what a silently broken watch would never deliver. */
  private async poll(): Promise<void> {
    try {
      await this.listAndDispatch();
    } catch {
      // The watch, or the next poll, will tell.
    }
  }

  private async listAndDispatch(): Promise<string | undefined> {
    const started = ++this.lists;
    const list = await this.jobs.listWithVersion(this.options.labelSelector);
    const present = new Set<string>();
    for (const job of list.items) {
      const name = job.metadata?.name;
      if (!name) continue;
      present.add(name);
      this.dispatch(name, (l) => l.job(job));
    }
    for (const [name, set] of [...this.subscriptions]) {
      if (present.has(name)) continue;
      for (const s of [...set]) if (s.since < started) s.listener.deleted();
    }
    return list.resourceVersion;
  }

  private watch(): void {
    if (!this.running) return;
    const generation = ++this.generation;
    this.armWatchdog(generation);
    const serverTimeout = Math.max(1, Math.floor(this.options.watchdogMs / 1000));
    this.jobs
      .watch(
        this.options.labelSelector,
        this.resourceVersion,
        serverTimeout,
        (event) => this.onEvent(generation, event),
        (err) => this.onWatchEnd(generation, err),
      )
      .then(
        (stop) => {
          if (generation === this.generation) this.stopWatch = stop;
          else stop(); // replaced (or stopped) while connecting
        },
        (err: unknown) => this.onWatchEnd(generation, err),
      );
  }

  private onEvent(generation: number, event: JobWatchEvent): void {
    if (generation !== this.generation) return;
    if (event.type === 'ERROR') {
      // 410 Gone: our version is older than the server's cache. LIST afresh, watch from there.
      // Any other ERROR: the same, after a back-off.
      this.restart(generation, 'relist', event.object.code === 410 ? this.nextDelay(true) : this.nextDelay());
      return;
    }
    this.armWatchdog(generation);
    this.unproductive = 0;
    const version = event.object.metadata?.resourceVersion;
    if (version) this.resourceVersion = version;
    const name = event.object.metadata?.name;
    if (!name || event.type === 'BOOKMARK') return;
    if (event.type === 'DELETED') this.dispatch(name, (l) => l.deleted());
    else this.dispatch(name, (l) => l.job(event.object));
  }

  private onWatchEnd(generation: number, err: unknown): void {
    if (generation !== this.generation) return;
    const status = (err as { statusCode?: unknown } | null)?.statusCode;
    if (status === 401 || status === 403) {
      const message = `the API server refused (HTTP ${status}): the orchestrator's identity needs get, list and watch on jobs.batch in namespace ${this.jobs.namespace}`;
      return this.refuse(new K8sApiError(`watch Jobs in ${this.jobs.namespace}`, message, status, err));
    }
    // The server ending a watch at its timeout is routine: watch again at once from the latest
    // version. A failure, or an end that brought nothing since the last one, backs off.
    this.restart(generation, 'watch', err ? this.nextDelay() : this.nextDelay(true));
  }

  /** 0 for the first unproductive restart when `firstFree`, then 0.5 s doubling to 5 s. */
  private nextDelay(firstFree = false): number {
    const n = ++this.unproductive;
    if (firstFree && n === 1) return 0;
    return Math.min(MAX_DELAY_MS, 500 * 2 ** Math.max(0, n - (firstFree ? 2 : 1)));
  }

  private armWatchdog(generation: number): void {
    clearTimeout(this.watchdog);
    // A little past the server-side timeout: a healthy watch is closed by the server first. A
    // silent one is a dead connection that may have missed events: LIST afresh, then watch.
    this.watchdog = setTimeout(
      () => this.restart(generation, 'relist', this.nextDelay(true)),
      this.options.watchdogMs + 1_000,
    );
  }

  private restart(generation: number, how: 'watch' | 'relist', delayMs: number): void {
    if (generation !== this.generation || !this.running) return;
    const next = ++this.generation; // the old watch's late events and end are ignored from now on
    this.stopWatch?.();
    this.stopWatch = undefined;
    clearTimeout(this.watchdog);
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (how === 'relist') void this.relist(next);
      else if (next === this.generation) this.watch();
    }, delayMs);
  }

  private refuse(err: K8sApiError): void {
    const listeners = [...this.subscriptions.values()].flatMap((set) => [...set]);
    this.subscriptions.clear();
    this.stop();
    for (const s of listeners) s.listener.refused(err);
  }

  private dispatch(name: string, deliver: (listener: JobListener) => void): void {
    for (const s of [...(this.subscriptions.get(name) ?? [])]) deliver(s.listener);
  }
}
