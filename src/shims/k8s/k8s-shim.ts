import type { KubeConfig, V1Job } from '@kubernetes/client-node';
import { lookupBlobStore } from '../../blobstore/registry.js';
import { abortErrorOf, throwIfAborted } from '../../execute/call-signal.js';
import { ConcurrencyLimit } from '../concurrency-limit.js';
import { ConfigurationError } from '../../core/configuration-error.js';
import { importOptionalDependency } from '../../core/optional-dependency.js';
import { memoFile } from '../../protocol/memo-uri.js';
import type { Shim, ShimContext, ShimRequest } from '../shim.js';
import { onTermination } from '../../execute/termination.js';
import { K8sApiError, K8sJobFailedError, K8sJobVanishedError } from './errors.js';
import { buildJobManifest } from './job-manifest.js';
import { ANNOTATION, LABEL, MANAGED_BY, jobNameFor, labelSelector, memoUriHash } from './job-naming.js';
import { isJobActive } from './job-state.js';
import { waitForJobEnd } from './job-waiter.js';
import type { JobWatchHub } from './job-watch-hub.js';
import { checkKubeConfigFound } from './kubeconfig-check.js';
import type { K8sOptions } from './k8s-options.js';
import type { KubeJobs } from './kube-jobs.js';

/** At most this many Job creations in flight per shim (mops: 20): a burst of calls must not flood the API server. */
const MAX_CONCURRENT_CREATES = 20;

/**
 * A shim that runs each invocation as a Kubernetes Job (batch/v1) whose container runs
 * `memocall run <memo-uri> --writer-id=<id>` in `image`, and resolves when the Job has ended:
 * `Complete`, or failed by the pod failure policy on exit 46 (the function threw: `error` is
 * stored) or 47 (another writer holds the lease: nothing to do). It rejects with a
 * `K8sJobFailedError` when the Job failed otherwise (retries exhausted: memocall failed in the
 * pod, OOM, node loss...), `K8sJobVanishedError` when the Job was deleted under it, `K8sApiError`
 * when the API cannot be reached.
 *
 * Jobs are labelled `memocall.dev/memo-uri-hash=<hash of the memo URI>` and named after the lease
 * holder. Before creating, the shim lists the invocation's Jobs by that label: a Job of the same
 * lease holder (a create whose answer was lost, a retried shim call) is waited for instead of
 * started again; a still-running Job of an earlier holder is deleted, since its lease is gone and
 * its run is fenced off (it could store nothing). A caller that finds the lease *held* never gets
 * here: it waits for the holder's Job through storage (see docs/kubernetes.md, "Re-attaching").
 *
 * On abort (the caller gives up, or its lease was taken over) and when this process is told to
 * terminate (SIGINT, SIGTERM), the Job is deleted with its pods.
 *
 * Nothing touches the cluster until the first call: modules that build the shim at import time
 * load in the Job's own container too.
 */
export function k8s(options: K8sOptions): Shim {
  if (!options || (typeof options.image !== 'string' && typeof options.image !== 'function') || options.image === '') {
    throw new ConfigurationError('k8s({ image }) needs the container image that holds memocall and the functions');
  }
  for (const key of ['backoffLimit', 'ttlSecondsAfterFinished', 'activeDeadlineSeconds'] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isInteger(value) || value < 0))
      throw new ConfigurationError(`k8s({ ${key} }) must be a whole number ≥ 0, got ${value}`);
  }
  for (const key of ['watchdogMs', 'pollMs'] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isFinite(value) || value <= 0))
      throw new ConfigurationError(`k8s({ ${key} }) must be a positive number of milliseconds, got ${value}`);
  }
  const state: ShimState = { options, creates: new ConcurrencyLimit(MAX_CONCURRENT_CREATES), client: undefined };
  return (request, ctx) => runAsJob(request, ctx, state);
}

interface ShimState {
  options: K8sOptions;
  creates: ConcurrencyLimit;
  client: Promise<Client> | undefined;
}

/** The shim's one API client and its one shared watch on memocall's Jobs. */
interface Client {
  jobs: KubeJobs;
  hub: JobWatchHub;
}

/** Every Job memocall creates carries this label: the shared watch selects by it. */
const MANAGED_SELECTOR = labelSelector({ [LABEL.managedBy]: MANAGED_BY });

/**
 * A blob root the cluster's pods cannot reach fails every Job (three times, BackoffLimitExceeded):
 * refused before anything is created. `memory://` lives in this process; `file://` on this
 * machine, unless `sharedFilesystem` says the pods see the same path.
 */
function checkBlobRootReachable(memoUri: string, options: K8sOptions): void {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(memoUri)?.[1]?.toLowerCase();
  if (scheme === 'memory')
    throw new ConfigurationError(
      `k8s(): the blob root of ${memoUri} is memory://, which lives in this process: a Job's pod cannot reach it. Use a shared store (s3://, adls://)`,
    );
  if (scheme === 'file' && !options.sharedFilesystem)
    throw new ConfigurationError(
      `k8s(): the blob root of ${memoUri} is a file:// path of this machine, which a Job's pod cannot reach. Use a shared store (s3://, adls://), or pass k8s({ sharedFilesystem: true }) if the pods mount the same path`,
    );
}

/**
 * The API client, made at the first call. @kubernetes/client-node is loaded only then: it takes
 * seconds to import, which every process importing memocall (each remote, each child) would pay.
 */
function clientOf(state: ShimState): Promise<Client> {
  state.client ??= (async () => {
    const [{ KubeConfig }, { KubeJobs }, { JobWatchHub }] = await Promise.all([
      importOptionalDependency('@kubernetes/client-node', 'the k8s() shim', () => import('@kubernetes/client-node')),
      import('./kube-jobs.js'),
      import('./job-watch-hub.js'),
    ]);
    const { options } = state;
    // The option is typed by the parts memocall reads; it is the client's KubeConfig (see K8sKubeConfig).
    let kubeConfig = options.kubeConfig as KubeConfig | undefined;
    if (!kubeConfig) {
      kubeConfig = new KubeConfig();
      kubeConfig.loadFromDefault();
      // Found nothing, the client falls back to http://localhost:8080: say so now, not 17 s later.
      checkKubeConfigFound(kubeConfig);
    }
    const contextNamespace = kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace;
    const jobs = new KubeJobs(kubeConfig, options.namespace ?? contextNamespace ?? 'default');
    const hub = new JobWatchHub(jobs, {
      labelSelector: MANAGED_SELECTOR,
      watchdogMs: options.watchdogMs ?? 120_000,
      pollMs: options.pollMs ?? 30_000,
    });
    return { jobs, hub };
  })();
  // A failed set-up (no kubeconfig) is reported to this call and tried again by the next.
  state.client.catch(() => (state.client = undefined));
  return state.client;
}

async function runAsJob(request: ShimRequest, ctx: ShimContext, state: ShimState): Promise<void> {
  const { functionId, signal } = ctx;
  const { memoUri, writerId } = request;
  throwIfAborted(signal, memoUri);
  const { options } = state;
  checkBlobRootReachable(memoUri, options);
  const { jobs, hub } = await clientOf(state);
  const name = jobNameFor(functionId, memoUri, writerId);

  let submitted = false;
  const forgetLive = trackLiveJob(jobs, name);
  try {
    const found = await invocationJobs(jobs, memoUri);
    const mine = found.find((job) => job.metadata?.annotations?.[ANNOTATION.writerId] === writerId);
    for (const job of found) {
      // An earlier holder's Job still running: its lease is gone, so it can store nothing.
      if (job !== mine && isJobActive(job) && job.metadata?.name)
        void jobs.delete(job.metadata.name, 'Foreground').catch(() => undefined);
    }
    if (!mine) {
      const image = typeof options.image === 'function' ? await options.image() : options.image;
      let manifest = buildJobManifest(
        { name, namespace: jobs.namespace, image, memoUri, functionId, writerId },
        options,
      );
      if (options.transform) {
        manifest = (await options.transform(manifest, { memoUri, functionId })) as V1Job;
        if (manifest.metadata?.labels?.[LABEL.managedBy] !== MANAGED_BY)
          throw new ConfigurationError(
            `k8s({ transform }) removed the label ${LABEL.managedBy}=${MANAGED_BY} from Job ${name}: the shim watches its Jobs by it`,
          );
      }
      const free = await state.creates.acquire(signal);
      try {
        submitted = true;
        // undefined: it exists already (an earlier attempt of this very holder whose answer was lost).
        await jobs.create(manifest);
      } finally {
        free();
      }
    } else {
      submitted = true;
    }
    throwIfAborted(signal, memoUri);

    const outcome = await waitForJobEnd(jobs, hub, name, { signal });
    switch (outcome.kind) {
      case 'complete':
      case 'failed-by-policy':
        return;
      case 'failed':
        throw new K8sJobFailedError(memoUri, jobs.namespace, name, outcome.reason, outcome.message);
      case 'vanished':
        // Deleted by someone else (or by its TTL before we looked): fine if it stored its outcome.
        if (await outcomeStored(memoUri)) return;
        throw new K8sJobVanishedError(memoUri, jobs.namespace, name);
    }
  } catch (err) {
    if (signal?.aborted) {
      // Stop the work: the Job and its pods go, then the caller releases the lease.
      if (submitted) await jobs.delete(name, 'Foreground').catch(() => undefined);
      throw abortErrorOf(signal, memoUri);
    }
    // The cluster will not let us watch (401/403): nobody can wait for the Job, so stop it.
    if (submitted && err instanceof K8sApiError && (err.status === 401 || err.status === 403))
      await jobs.delete(name, 'Foreground').catch(() => undefined);
    throw err;
  } finally {
    forgetLive();
  }
}

/** The Jobs of this memo URI (by label, confirmed by the full URI in their annotation). */
async function invocationJobs(jobs: KubeJobs, memoUri: string): Promise<V1Job[]> {
  const listed = await jobs.list(labelSelector({ [LABEL.memoUriHash]: memoUriHash(memoUri) }));
  return listed.filter((job) => job.metadata?.annotations?.[ANNOTATION.memoUri] === memoUri);
}

async function outcomeStored(memoUri: string): Promise<boolean> {
  const store = lookupBlobStore(memoUri);
  const [result, error] = await Promise.all([
    store.head(memoFile.result(memoUri)),
    store.head(memoFile.error(memoUri)),
  ]);
  return result !== null || error !== null;
}

/** Jobs this process is waiting for: deleted if the process is told to terminate. */
const liveJobs = new Map<string, { jobs: KubeJobs; name: string }>();
let terminationHooked = false;

function trackLiveJob(jobs: KubeJobs, name: string): () => void {
  const key = `${jobs.namespace}/${name}`;
  liveJobs.set(key, { jobs, name });
  if (!terminationHooked) {
    terminationHooked = true;
    onTermination(async () => {
      await Promise.allSettled([...liveJobs.values()].map(({ jobs: j, name: n }) => j.delete(n, 'Foreground')));
    });
  }
  return () => {
    liveJobs.delete(key);
  };
}
