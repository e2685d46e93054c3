import { setTimeout as sleep } from 'node:timers/promises';
import { BatchV1Api, type KubeConfig, Watch, type V1Job } from '@kubernetes/client-node';
import { K8sApiError } from './errors.js';

/**
 * A watch event, as the API server streams it: a Job (`BOOKMARK`: only its resourceVersion), or
 * for `ERROR` a Status (`code` 410: the version watched from is older than the server's cache).
 */
export type JobWatchEvent =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK'; object: V1Job }
  | { type: 'ERROR'; object: { code?: number; reason?: string; message?: string } };

/** A LIST's items and the resourceVersion to watch from after it. */
export interface JobList {
  items: V1Job[];
  resourceVersion: string | undefined;
}

/** Transient failures are retried this many times, waiting 0.5 s doubling to 5 s in between. */
const RETRIES = 6;

/**
 * The batch/v1 Jobs calls memocall makes, in one namespace, with retries for transient failures
 * (no answer, 429, 5xx). Everything else fails at once with a K8sApiError.
 */
export class KubeJobs {
  private readonly api: BatchV1Api;
  private readonly watcher: Watch;

  constructor(
    readonly kubeConfig: KubeConfig,
    readonly namespace: string,
  ) {
    this.api = kubeConfig.makeApiClient(BatchV1Api);
    this.watcher = new Watch(kubeConfig);
  }

  /** Creates the Job; `undefined` when one of that name exists already (HTTP 409). */
  async create(job: V1Job): Promise<V1Job | undefined> {
    try {
      return await this.call('create Job', () =>
        this.api.createNamespacedJob({ namespace: this.namespace, body: job }),
      );
    } catch (err) {
      if (err instanceof K8sApiError && err.status === 409) return undefined;
      throw err;
    }
  }

  /** The Job, or `undefined` when it does not exist. */
  async get(name: string): Promise<V1Job | undefined> {
    try {
      return await this.call(`read Job ${name}`, () => this.api.readNamespacedJob({ name, namespace: this.namespace }));
    } catch (err) {
      if (err instanceof K8sApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async list(labelSelector: string): Promise<V1Job[]> {
    return (await this.listWithVersion(labelSelector)).items;
  }

  /** The Jobs matching `labelSelector` now, and the version a watch continuing this LIST starts from. */
  async listWithVersion(labelSelector: string): Promise<JobList> {
    const list = await this.call(`list Jobs ${labelSelector}`, () =>
      this.api.listNamespacedJob({ namespace: this.namespace, labelSelector }),
    );
    return { items: list.items, resourceVersion: list.metadata?.resourceVersion };
  }

  /**
   * Deletes the Job and its pods (their processes get SIGTERM, then SIGKILL after the grace
   * period). `Background`: the call returns at once, the cluster stops the pods. False when it was
   * gone already.
   */
  async delete(name: string, propagationPolicy: 'Foreground' | 'Background' = 'Background'): Promise<boolean> {
    try {
      await this.call(`delete Job ${name}`, () =>
        this.api.deleteNamespacedJob({ name, namespace: this.namespace, propagationPolicy }),
      );
      return true;
    } catch (err) {
      if (err instanceof K8sApiError && err.status === 404) return false;
      throw err;
    }
  }

  /**
   * Streams the events of the namespace's Jobs matching `labelSelector` from `resourceVersion`
   * on, with bookmarks. `done` is called once, when the stream ends for any reason (a refused
   * watch: an error with `statusCode`); the returned function ends it.
   */
  async watch(
    labelSelector: string,
    resourceVersion: string | undefined,
    timeoutSeconds: number,
    onEvent: (event: JobWatchEvent) => void,
    done: (err: unknown) => void,
  ): Promise<() => void> {
    const path = `/apis/batch/v1/namespaces/${encodeURIComponent(this.namespace)}/jobs`;
    const query = {
      labelSelector,
      resourceVersion,
      timeoutSeconds,
      allowWatchBookmarks: true,
    };
    const controller = await this.watcher.watch(
      path,
      query,
      (type, object) => onEvent({ type, object } as JobWatchEvent),
      done,
    );
    return () => controller.abort();
  }

  private async call<T>(operation: string, request: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await request();
      } catch (err) {
        const status = statusOf(err);
        const transient = status === undefined || status === 429 || status >= 500;
        if (!transient || attempt >= RETRIES) throw new K8sApiError(operation, messageOf(err), status, err);
        // A 429's Retry-After is honoured (up to 30 s): asking sooner only earns another 429.
        await sleep(Math.max(Math.min(5_000, 500 * 2 ** attempt), retryAfterMs(err)));
      }
    }
  }
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

function retryAfterMs(err: unknown): number {
  const headers = (err as { headers?: Record<string, string | undefined> }).headers;
  const seconds = Number(headers?.['retry-after'] ?? headers?.['Retry-After']);
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(30, seconds) * 1000 : 0;
}

function messageOf(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: string };
      if (parsed.message) return parsed.message;
    } catch {
      // not JSON
    }
  } else if (body && typeof body === 'object' && 'message' in body) {
    return String((body as { message: unknown }).message);
  }
  return err instanceof Error ? err.message : String(err);
}
