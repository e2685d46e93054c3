/**
 * A STAND-IN for a Kubernetes API server, for tests: no API server can run on these machines.
 *
 * It serves exactly the batch/v1 namespaced Jobs calls that memocall's k8s shim makes through
 * @kubernetes/client-node (create, read, list by label or field selector, delete with a
 * propagation policy, watch as a stream of JSON lines), over plain HTTP on 127.0.0.1, and it
 * really runs each Job: the container's `command` + `args` become a local process (the image's
 * `memocall` is replaced by this project's CLI, see `memocall` below) with the container's `env`,
 * in the project root. The Job's status follows the process the way the Job controller would:
 *  - exit 0: `Complete`;
 *  - a non-zero exit matched by a `podFailurePolicy` rule: `FailJob` fails the Job at once
 *    (reason `PodFailurePolicy`), `Ignore` restarts the pod without counting, `Count` counts;
 *  - other failures (a signal counts as 128 + its number) are retried until `backoffLimit`, then
 *    `Failed` (reason `BackoffLimitExceeded`); `activeDeadlineSeconds` → `DeadlineExceeded`;
 *  - `evict()` disrupts a running pod the way a node drain does (condition `DisruptionTarget`);
 *  - delete stops the process (SIGTERM, then SIGKILL after a grace period), except `Orphan`;
 *  - `ttlSecondsAfterFinished` deletes finished Jobs.
 *
 * Its watches behave like a real API server's watch cache where the shim depends on it: the
 * cache holds the last `watchCacheSize` events; a watch from a resourceVersion older than that
 * window gets one `ERROR` event (a Status with code 410, reason `Expired`) and the stream ends;
 * `allowWatchBookmarks=true` brings `BOOKMARK` events every `bookmarkIntervalMs`; `restart()`
 * cuts every watch and empties the cache (resource versions continue, as etcd's do); `throttle()`
 * answers the next requests with 429 and `Retry-After`; `refuseWatches` answers watches with
 * 401/403.
 *
 * NOT emulated: scheduling, images and pulls (the image name is ignored), pods as API objects
 * (no pods API, no logs API), resources and limits, node selectors, tolerations, affinity,
 * service accounts, RBAC, authentication, admission and most validation, `envFrom`/`valueFrom`
 * (rejected loudly), `parallelism`/`completions` > 1, indexed Jobs, finalizers other than
 * foreground deletion, watch cache windows by time (this one is by event count), watch
 * progress notifications, `sendInitialEvents`, resource versions of a real etcd (here: one counter).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { constants as osConstants } from 'node:os';
import { KubeConfig, type V1Job, type V1JobCondition, type V1PodFailurePolicyRule } from '@kubernetes/client-node';
import { projectRoot, tsxLoader } from './child.js';

export interface FakeKubeApiOptions {
  /**
   * What the image's `memocall` command runs. Default: this project's `memocall run` entry from
   * source through tsx (`node --import tsx src/shims/subprocess/child-main.ts`: the same memocall the tests
   * load, and the CLI's `run` without the other commands, which start a second slower). Jobs
   * only ever run `memocall run ...`; pass `[node, 'dist/src/cli/main.js']` for the full CLI.
   */
  memocall?: string[];
  /** Working directory of every pod process (the image's WORKDIR). Default: the project root. */
  cwd?: string;
  /** How long a pod stays pending before its process starts (scheduling, image pull). Default 0. */
  podStartDelayMs?: number;
  /** Delay before a failed pod is replaced; doubles per failure (the controller: 10 s). Default 100 ms. */
  retryDelayMs?: number;
  /** Between SIGTERM and SIGKILL when a pod is stopped (Kubernetes' default: 30 s). Default 1 000 ms. */
  terminationGraceMs?: number;
  /** Pod output goes to this process's stderr too (prefixed with the Job's name). Default false. */
  echoOutput?: boolean;
  /** Events the watch cache keeps; a watch from an older version gets 410 Gone. Default 1 000. */
  watchCacheSize?: number;
  /** Between BOOKMARK events on watches that asked for them. Default 1 000 ms. */
  bookmarkIntervalMs?: number;
}

export interface PodAttempt {
  pid: number | undefined;
  exitCode: number | null;
  output: string;
  disrupted: boolean;
}

export interface FakeKubeApi {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** A client configuration pointing at this server (`KubeConfig.loadFromOptions`). */
  kubeConfig(namespace?: string): KubeConfig;
  /** Writes a kubeconfig file for this server (for child processes: `KUBECONFIG=<file>`). */
  writeKubeconfig(file: string, namespace?: string): void;
  /** The Jobs that exist now in `namespace`. */
  jobs(namespace?: string): V1Job[];
  /** Every Job ever created, in order (as created, status aside). */
  readonly created: V1Job[];
  /** The pods run for a Job so far. */
  attempts(name: string, namespace?: string): PodAttempt[];
  /** Each request as `METHOD path?query`, in order. */
  readonly requests: string[];
  /** When true, watches are accepted but never deliver anything (a silently dead connection). */
  silentWatches: boolean;
  /** How long pods created from now on stay pending (see the option). */
  podStartDelayMs: number;
  /** Watch streams open now (silent ones included). */
  readonly openWatches: number;
  /** The most watch streams open at once so far. */
  readonly peakWatches: number;
  /** Watches answered 410 Gone so far (their version was older than the watch cache). */
  readonly expiredWatches: number;
  /** The last resource version handed out. */
  readonly resourceVersion: number;
  /** When set, every watch request is answered with this status (401 Unauthorized, 403 Forbidden). */
  refuseWatches: 401 | 403 | undefined;
  /**
   * An API server restart: every watch is cut (its connection reset), the watch cache starts
   * empty at the current version, so a watch from any earlier version gets 410 Gone. The rest of
   * the cluster keeps writing: the version moves on by one.
   */
  restart(): void;
  /** The next `count` requests are answered 429 Too Many Requests with `Retry-After: seconds`. */
  throttle(count: number, retryAfterSeconds: number): void;
  /** Disrupts the Job's running pod as a node drain would (SIGTERM, condition DisruptionTarget). */
  evict(name: string, namespace?: string): boolean;
  /** Stops every pod process and the server. */
  close(): Promise<void>;
}

interface FakeJob {
  object: V1Job;
  namespace: string;
  name: string;
  attempts: PodAttempt[];
  child: ChildProcess | undefined;
  /** Set when the running pod is being disrupted (evicted). */
  disrupting: boolean;
  /** Set when the pod is being stopped by a delete or a deadline. */
  stopping: 'delete' | 'deadline' | undefined;
  finished: boolean;
  timers: NodeJS.Timeout[];
}

interface Watcher {
  namespace: string;
  matches(job: V1Job): boolean;
  res: ServerResponse;
  bookmarks: NodeJS.Timeout | undefined;
}

interface HistoryEvent {
  rv: number;
  namespace: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: V1Job;
}

const JOBS_PATH = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs(?:\/([^/]+))?$/;

export async function startFakeKubeApi(options: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
  const memocall = options.memocall ?? [
    process.execPath,
    '--import',
    tsxLoader,
    path.join(projectRoot, 'src', 'shims', 'subprocess', 'child-main.ts'),
  ];
  const cwd = options.cwd ?? projectRoot;
  const retryDelayMs = options.retryDelayMs ?? 100;
  const graceMs = options.terminationGraceMs ?? 1_000;

  const store = new Map<string, FakeJob>(); // key: namespace/name
  const created: V1Job[] = [];
  const requests: string[] = [];
  const history: HistoryEvent[] = [];
  const watchers = new Set<Watcher>();
  /** Attempts stay readable after a Job is deleted (tests look at them afterwards). */
  const attemptsOfGone = new Map<string, PodAttempt[]>();
  let resourceVersion = 1;
  /** Watches from a version below this get 410 Gone: the cache no longer holds what followed it. */
  let cacheStartRv = 1;
  const watchCacheSize = options.watchCacheSize ?? 1_000;
  const bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1_000;
  /** Every open watch response, silent ones included (restart cuts them all). */
  const streams = new Set<ServerResponse>();
  let peakWatches = 0;
  let expiredWatches = 0;
  let throttled = { count: 0, retryAfterSeconds: 1 };
  let closed = false;

  const key = (namespace: string, name: string) => `${namespace}/${name}`;
  const snapshot = (job: V1Job): V1Job => JSON.parse(JSON.stringify(job)) as V1Job;

  function emit(fake: FakeJob, type: HistoryEvent['type']): void {
    fake.object.metadata!.resourceVersion = String(++resourceVersion);
    const event: HistoryEvent = { rv: resourceVersion, namespace: fake.namespace, type, object: snapshot(fake.object) };
    history.push(event);
    while (history.length > watchCacheSize) cacheStartRv = history.shift()!.rv;
    for (const watcher of watchers) {
      if (watcher.namespace === event.namespace && watcher.matches(event.object))
        watcher.res.write(`${JSON.stringify({ type, object: event.object })}\n`);
    }
  }

  const now = () => new Date().toISOString();

  function setCondition(fake: FakeJob, type: string, reason: string, message: string): void {
    const status = (fake.object.status ??= {});
    const conditions = (status.conditions ??= []) as V1JobCondition[];
    conditions.push({
      type,
      status: 'True',
      reason,
      message,
      lastProbeTime: now() as unknown as Date,
      lastTransitionTime: now() as unknown as Date,
    });
  }

  function finish(fake: FakeJob, outcome: 'Complete' | 'Failed', reason: string, message: string): void {
    fake.finished = true;
    const status = fake.object.status!;
    status.active = 0;
    if (outcome === 'Complete') {
      setCondition(fake, 'SuccessCriteriaMet', 'CompletionsReached', 'Reached expected number of succeeded pods');
      setCondition(fake, 'Complete', 'CompletionsReached', 'Reached expected number of succeeded pods');
      status.completionTime = now() as unknown as Date;
    } else {
      setCondition(fake, 'FailureTarget', reason, message);
      setCondition(fake, 'Failed', reason, message);
    }
    emit(fake, 'MODIFIED');
    const ttl = fake.object.spec?.ttlSecondsAfterFinished;
    if (ttl !== undefined) later(fake, ttl * 1000, () => remove(fake));
  }

  function later(fake: FakeJob, ms: number, fn: () => void): void {
    const timer = setTimeout(fn, ms);
    timer.unref();
    fake.timers.push(timer);
  }

  function remove(fake: FakeJob): void {
    if (!store.has(key(fake.namespace, fake.name))) return;
    store.delete(key(fake.namespace, fake.name));
    attemptsOfGone.set(key(fake.namespace, fake.name), fake.attempts);
    for (const timer of fake.timers) clearTimeout(timer);
    emit(fake, 'DELETED');
  }

  function signalGroup(child: ChildProcess, sig: NodeJS.Signals): void {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  }

  function stopPod(fake: FakeJob, why: 'delete' | 'deadline' | 'disrupt'): void {
    const child = fake.child;
    if (!child) return;
    if (why === 'disrupt') fake.disrupting = true;
    else fake.stopping = why;
    signalGroup(child, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
    timer.unref();
    child.once('exit', () => clearTimeout(timer));
  }

  function startPod(fake: FakeJob): void {
    if (
      closed ||
      fake.finished ||
      !store.has(key(fake.namespace, fake.name)) ||
      fake.object.metadata?.deletionTimestamp
    )
      return;
    const container = fake.object.spec!.template.spec!.containers[0]!;
    const argv = [...(container.command?.length ? container.command : ['memocall']), ...(container.args ?? [])];
    const command = argv[0] === 'memocall' ? [...memocall, ...argv.slice(1)] : argv;
    // A container starts from its image's environment, not the host's: only PATH and HOME here.
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
    for (const variable of container.env ?? []) env[variable.name] = variable.value ?? '';
    const attempt: PodAttempt = { pid: undefined, exitCode: null, output: '', disrupted: false };
    fake.attempts.push(attempt);
    const child = spawn(command[0]!, command.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    fake.child = child;
    attempt.pid = child.pid;
    const collect = (data: Buffer) => {
      attempt.output += data.toString();
      if (options.echoOutput) process.stderr.write(`[pod ${fake.name}] ${data.toString()}`);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    const status = fake.object.status!;
    status.active = 1;
    status.startTime ??= now() as unknown as Date;
    emit(fake, 'MODIFIED');
    const deadline = fake.object.spec?.activeDeadlineSeconds;
    if (deadline !== undefined && fake.attempts.length === 1) {
      later(fake, deadline * 1000, () => {
        if (fake.finished) return;
        stopPod(fake, 'deadline');
        if (!fake.child) finish(fake, 'Failed', 'DeadlineExceeded', 'Job was active longer than specified deadline');
      });
    }
    child.once('error', (err) => {
      attempt.output += `\n[fake-kube] could not start ${command[0]}: ${err.message}\n`;
    });
    child.once('close', (code, sig) => {
      fake.child = undefined;
      const exitCode = code ?? 128 + (sig ? (osConstants.signals[sig] ?? 0) : 0);
      attempt.exitCode = exitCode;
      podEnded(fake, exitCode);
    });
  }

  function podEnded(fake: FakeJob, exitCode: number): void {
    const status = fake.object.status!;
    status.active = 0;
    if (fake.stopping === 'delete' || closed) {
      remove(fake);
      return;
    }
    if (fake.stopping === 'deadline') {
      status.failed = (status.failed ?? 0) + 1;
      finish(fake, 'Failed', 'DeadlineExceeded', 'Job was active longer than specified deadline');
      return;
    }
    if (exitCode === 0) {
      status.succeeded = 1;
      finish(fake, 'Complete', 'CompletionsReached', '');
      return;
    }
    const disrupted = fake.disrupting;
    fake.disrupting = false;
    fake.attempts.at(-1)!.disrupted = disrupted;
    const rules = fake.object.spec?.podFailurePolicy?.rules ?? [];
    const rule = rules.findIndex((r) => ruleMatches(r, exitCode, disrupted, fake));
    const action = rule >= 0 ? rules[rule]!.action : 'Count';
    if (action === 'FailJob') {
      status.failed = (status.failed ?? 0) + 1;
      const message = `Container ${fake.object.spec!.template.spec!.containers[0]!.name} for pod ${fake.namespace}/${fake.name}-${fake.attempts.length} failed with exit code ${exitCode} matching FailJob rule at index ${rule}`;
      finish(fake, 'Failed', 'PodFailurePolicy', message);
      return;
    }
    if (action !== 'Ignore') status.failed = (status.failed ?? 0) + 1;
    emit(fake, 'MODIFIED');
    if ((status.failed ?? 0) > (fake.object.spec?.backoffLimit ?? 6)) {
      finish(fake, 'Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit');
      return;
    }
    const delay = action === 'Ignore' ? retryDelayMs : retryDelayMs * 2 ** Math.max(0, (status.failed ?? 1) - 1);
    later(fake, delay, () => startPod(fake));
  }

  function ruleMatches(rule: V1PodFailurePolicyRule, exitCode: number, disrupted: boolean, fake: FakeJob): boolean {
    if (rule.onExitCodes) {
      const req = rule.onExitCodes;
      const containerName = fake.object.spec!.template.spec!.containers[0]!.name;
      if (req.containerName && req.containerName !== containerName) return false;
      const listed = req.values.includes(exitCode);
      return req.operator === 'In' ? listed : !listed;
    }
    if (rule.onPodConditions)
      return (
        disrupted && rule.onPodConditions.some((c) => c.type === 'DisruptionTarget' && (c.status ?? 'True') === 'True')
      );
    return false;
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  function send(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  function statusBody(code: number, reason: string, message: string) {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: code < 300 ? 'Success' : 'Failure',
      message,
      reason,
      code,
    };
  }

  function selectorMatcher(query: URLSearchParams): (job: V1Job) => boolean {
    const labels = parseSelector(query.get('labelSelector'));
    const fields = parseSelector(query.get('fieldSelector'));
    return (job) => {
      for (const [k, v] of labels) if (job.metadata?.labels?.[k] !== v) return false;
      for (const [k, v] of fields) {
        if (k === 'metadata.name' && job.metadata?.name !== v) return false;
        if (k === 'metadata.namespace' && job.metadata?.namespace !== v) return false;
      }
      return true;
    };
  }

  async function readBody(req: IncomingMessage): Promise<string> {
    let body = '';
    for await (const chunk of req) body += (chunk as Buffer).toString();
    return body;
  }

  function validate(job: V1Job): string | undefined {
    const name = job.metadata?.name;
    if (!name) return 'metadata.name: Required value';
    if (name.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name))
      return `metadata.name: Invalid value: "${name}": must be a DNS-1123 label of at most 63 characters`;
    for (const [k, v] of Object.entries(job.metadata?.labels ?? {})) {
      if (v.length > 63 || !/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v))
        return `metadata.labels: Invalid value: "${v}" for ${k}`;
    }
    const pod = job.spec?.template?.spec;
    if (!pod?.containers?.length) return 'spec.template.spec.containers: Required value';
    if (pod.containers.length > 1) return 'the stand-in runs one container per pod';
    if (pod.restartPolicy !== 'Never' && pod.restartPolicy !== 'OnFailure')
      return 'spec.template.spec.restartPolicy: Unsupported value';
    if (job.spec?.podFailurePolicy && pod.restartPolicy !== 'Never')
      return 'spec.podFailurePolicy: Invalid value: only allowed with restartPolicy Never';
    const container = pod.containers[0]!;
    if (container.envFrom?.length || container.env?.some((e) => e.valueFrom))
      return 'the stand-in does not emulate envFrom or valueFrom';
    if ((job.spec?.parallelism ?? 1) !== 1 || (job.spec?.completions ?? 1) !== 1)
      return 'the stand-in runs one pod at a time';
    return undefined;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (throttled.count > 0) {
      throttled.count--;
      res.setHeader('retry-after', String(throttled.retryAfterSeconds));
      return send(res, 429, statusBody(429, 'TooManyRequests', 'the server has received too many requests'));
    }
    const match = JOBS_PATH.exec(url.pathname);
    if (!match)
      return send(
        res,
        404,
        statusBody(404, 'NotFound', `the stand-in serves only batch/v1 namespaced Jobs, not ${url.pathname}`),
      );
    const namespace = decodeURIComponent(match[1]!);
    const name = match[2] === undefined ? undefined : decodeURIComponent(match[2]);
    const fake = name === undefined ? undefined : store.get(key(namespace, name));

    if (req.method === 'POST' && name === undefined) {
      const job = JSON.parse(await readBody(req)) as V1Job;
      const invalid = validate(job);
      if (invalid)
        return send(res, 422, statusBody(422, 'Invalid', `Job.batch "${job.metadata?.name}" is invalid: ${invalid}`));
      const jobName = job.metadata!.name!;
      if (store.has(key(namespace, jobName)))
        return send(res, 409, statusBody(409, 'AlreadyExists', `jobs.batch "${jobName}" already exists`));
      job.metadata = {
        ...job.metadata,
        namespace,
        uid: randomUUID(),
        creationTimestamp: now() as unknown as Date,
        generation: 1,
      };
      job.status = {};
      created.push(snapshot(job));
      const entry: FakeJob = {
        object: job,
        namespace,
        name: jobName,
        attempts: [],
        child: undefined,
        disrupting: false,
        stopping: undefined,
        finished: false,
        timers: [],
      };
      store.set(key(namespace, jobName), entry);
      emit(entry, 'ADDED');
      later(entry, fakeApi.podStartDelayMs, () => startPod(entry));
      return send(res, 201, entry.object);
    }

    if (req.method === 'GET' && name !== undefined) {
      if (!fake) return send(res, 404, statusBody(404, 'NotFound', `jobs.batch "${name}" not found`));
      return send(res, 200, fake.object);
    }

    if (req.method === 'GET' && url.searchParams.get('watch') === 'true') {
      const matches = selectorMatcher(url.searchParams);
      if (fakeApi.refuseWatches) {
        const code = fakeApi.refuseWatches;
        return send(
          res,
          code,
          code === 401
            ? statusBody(401, 'Unauthorized', 'Unauthorized')
            : statusBody(403, 'Forbidden', `jobs.batch is forbidden: cannot watch resource "jobs" in "${namespace}"`),
        );
      }
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.flushHeaders();
      streams.add(res);
      peakWatches = Math.max(peakWatches, streams.size);
      res.on('close', () => streams.delete(res));
      if (fakeApi.silentWatches) return; // accepted, then nothing ever: the client's watchdog must notice
      const from = url.searchParams.get('resourceVersion');
      if (from && from !== '0' && Number(from) < cacheStartRv) {
        // As the watch cache does: one ERROR event, then the end of the stream.
        expiredWatches++;
        const gone = statusBody(410, 'Expired', `too old resource version: ${from} (${cacheStartRv})`);
        res.end(`${JSON.stringify({ type: 'ERROR', object: gone })}\n`);
        return;
      }
      const watcher: Watcher = { namespace, matches, res, bookmarks: undefined };
      if (url.searchParams.get('allowWatchBookmarks') === 'true') {
        watcher.bookmarks = setInterval(() => {
          const bookmark = {
            kind: 'Job',
            apiVersion: 'batch/v1',
            metadata: { resourceVersion: String(resourceVersion) },
          };
          res.write(`${JSON.stringify({ type: 'BOOKMARK', object: bookmark })}\n`);
        }, bookmarkIntervalMs);
      }
      if (from && from !== '0') {
        for (const event of history) {
          if (event.rv > Number(from) && event.namespace === namespace && matches(event.object))
            res.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
        }
      } else {
        for (const job of store.values())
          if (job.namespace === namespace && matches(job.object))
            res.write(`${JSON.stringify({ type: 'ADDED', object: job.object })}\n`);
      }
      watchers.add(watcher);
      const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0);
      const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
      res.on('close', () => {
        clearTimeout(timer);
        clearInterval(watcher.bookmarks);
        watchers.delete(watcher);
      });
      return;
    }

    if (req.method === 'GET' && name === undefined) {
      const matches = selectorMatcher(url.searchParams);
      const items = [...store.values()]
        .filter((j) => j.namespace === namespace && matches(j.object))
        .map((j) => j.object);
      return send(res, 200, {
        apiVersion: 'batch/v1',
        kind: 'JobList',
        metadata: { resourceVersion: String(resourceVersion) },
        items,
      });
    }

    if (req.method === 'DELETE' && name !== undefined) {
      if (!fake) return send(res, 404, statusBody(404, 'NotFound', `jobs.batch "${name}" not found`));
      await readBody(req);
      const policy = url.searchParams.get('propagationPolicy') ?? 'Background';
      if (policy === 'Orphan') {
        fake.child?.removeAllListeners('close');
        fake.child = undefined;
        remove(fake);
      } else if (policy === 'Foreground' && fake.child) {
        // The Job stays, marked for deletion, until its pod is gone.
        fake.object.metadata!.deletionTimestamp = now() as unknown as Date;
        fake.object.metadata!.finalizers = ['foregroundDeletion'];
        emit(fake, 'MODIFIED');
        stopPod(fake, 'delete');
      } else {
        if (fake.child) stopPod(fake, 'delete');
        remove(fake);
      }
      return send(res, 200, statusBody(200, '', `jobs.batch "${name}" deleted`));
    }

    return send(res, 405, statusBody(405, 'MethodNotAllowed', `${req.method} is not served by the stand-in`));
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, statusBody(500, 'InternalError', String(err)));
      else res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const kubeconfigOf = (namespace: string) => ({
    clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
    users: [{ name: 'fake', token: 'fake-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'fake', namespace }],
    currentContext: 'fake',
  });

  const fakeApi: FakeKubeApi = {
    url,
    silentWatches: false,
    refuseWatches: undefined,
    get openWatches() {
      return streams.size;
    },
    get peakWatches() {
      return peakWatches;
    },
    get expiredWatches() {
      return expiredWatches;
    },
    get resourceVersion() {
      return resourceVersion;
    },
    restart() {
      for (const res of streams) res.socket?.destroy();
      resourceVersion++;
      cacheStartRv = resourceVersion;
      history.length = 0;
    },
    throttle(count, retryAfterSeconds) {
      throttled = { count, retryAfterSeconds };
    },
    podStartDelayMs: options.podStartDelayMs ?? 0,
    created,
    requests,
    kubeConfig(namespace = 'default') {
      const kc = new KubeConfig();
      kc.loadFromOptions(kubeconfigOf(namespace));
      return kc;
    },
    writeKubeconfig(file, namespace = 'default') {
      const o = kubeconfigOf(namespace);
      const yaml = [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{ name: fake, cluster: { server: "${url}", insecure-skip-tls-verify: true } }]`,
        `users: [{ name: fake, user: { token: fake-token } }]`,
        `contexts: [{ name: fake, context: { cluster: fake, user: fake, namespace: ${namespace} } }]`,
        `current-context: ${o.currentContext}`,
        '',
      ].join('\n');
      writeFileSync(file, yaml);
    },
    jobs(namespace = 'default') {
      return [...store.values()].filter((j) => j.namespace === namespace).map((j) => snapshot(j.object));
    },
    attempts(name, namespace = 'default') {
      return store.get(key(namespace, name))?.attempts ?? attemptsOfGone.get(key(namespace, name)) ?? [];
    },
    evict(name, namespace = 'default') {
      const fake = store.get(key(namespace, name));
      if (!fake?.child) return false;
      stopPod(fake, 'disrupt');
      return true;
    },
    async close() {
      closed = true;
      const exits: Promise<void>[] = [];
      for (const fake of store.values()) {
        for (const timer of fake.timers) clearTimeout(timer);
        const child = fake.child;
        if (child && child.exitCode === null && child.signalCode === null) {
          exits.push(new Promise((resolve) => child.once('close', () => resolve())));
          signalGroup(child, 'SIGKILL');
        }
      }
      for (const res of streams) res.end();
      await Promise.all(exits);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };

  return fakeApi;
}

/** `a=b,c=d` → pairs (only equality selectors, which is all memocall uses). */
function parseSelector(selector: string | null): Array<[string, string]> {
  if (!selector) return [];
  return selector.split(',').map((part) => {
    const at = part.indexOf('=');
    return [part.slice(0, at), part.slice(at + 1).replace(/^=/, '')] as [string, string];
  });
}
