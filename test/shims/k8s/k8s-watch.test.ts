// How the k8s shim waits for its Jobs, against the STAND-IN (test/support/fake-kube-api.ts)
// behaving like a real API server's watch cache: 410 Gone for versions older than its window,
// bookmarks, a restart cutting every watch, 429 with Retry-After, watches refused with 403. The
// shim is called directly (no runner) with Jobs whose container just sleeps: what is measured is
// the conversation with the API server. No real cluster is exercised here.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BatchV1Api, type V1Job } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ConfigurationError, K8sApiError, k8s, type K8sOptions } from '../../../src/index.js';
import type { ShimRequest } from '../../../src/shims/shim.js';
import { startFakeKubeApi, type FakeKubeApi } from '../../support/fake-kube-api.js';
import { until } from '../../support/until.js';

let fake: FakeKubeApi;

beforeAll(async () => {
  // A small watch cache: a few dozen events push a version out of it.
  fake = await startFakeKubeApi({ watchCacheSize: 80, bookmarkIntervalMs: 100 });
});
afterAll(async () => {
  await fake?.close();
});

let calls = 0;

/** A shim call for a made-up invocation whose Job's container sleeps `seconds`. */
function sleeper(seconds: number, options: Partial<K8sOptions> = {}, signal?: AbortSignal) {
  const n = ++calls;
  const memoUri = `file:///tmp/memocall-k8s-watch/memocall-v2/t/watch--sleep/key${n}`;
  const shim = k8s({
    image: 'memocall-test:1',
    sharedFilesystem: true,
    kubeConfig: fake.kubeConfig(),
    watchdogMs: 30_000,
    pollMs: 60_000,
    transform: (job: V1Job) => {
      const container = job.spec!.template.spec!.containers[0]!;
      container.command = ['sleep'];
      container.args = [String(seconds)];
      return job;
    },
    ...options,
  });
  const request = { memoUri, writerId: `writer-${n}`, argv: [] } as unknown as ShimRequest;
  return { shim, memoUri, run: () => shim(request, { memoUri, functionId: 't/watch--sleep', signal }) };
}

const watchRequests = (from: number) => fake.requests.slice(from).filter((r) => r.includes('watch=true'));
const listRequests = (from: number) =>
  fake.requests.slice(from).filter((r) => r.startsWith('GET ') && /\/jobs\?/.test(r) && !r.includes('watch=true'));

test('after an API server restart (every watch cut, the watch cache empty) the wait recovers with at most 3 requests for the expiry, and ends', async () => {
  const call = sleeper(4);
  const start = fake.requests.length;
  const done = call.run();
  await until(() => watchRequests(start).length >= 1, 20_000, 'the shim to watch its Job');
  const mark = fake.requests.length;
  const expiredBefore = fake.expiredWatches;
  fake.restart();
  await done; // the Job completed and the shim saw it
  expect(fake.expiredWatches - expiredBefore).toBeGreaterThanOrEqual(1); // it did meet a 410
  const after = fake.requests.slice(mark);
  // The cut watch's successor is answered 410; then one LIST and one watch from its version.
  expect(after.length, after.join('\n')).toBeLessThanOrEqual(3);
}, 60_000);

test("bookmarks keep the watched version inside the server's window: after the server ends a watch, the next one continues without a 410 or a LIST", async () => {
  const call = sleeper(5, { watchdogMs: 1_000 }); // the server ends each watch after 1 s
  const start = fake.requests.length;
  const done = call.run();
  await until(() => watchRequests(start).length >= 1, 20_000, 'the shim to watch its Job');
  const mark = fake.requests.length;
  const expiredBefore = fake.expiredWatches;
  // Other activity in the namespace, not memocall's: 40 Jobs, 3 events each, push the Job's own
  // version out of the 80-event cache (paced: each bookmark, 100 ms apart, stays well inside it).
  const api = fake.kubeConfig().makeApiClient(BatchV1Api);
  for (let i = 0; i < 40; i++) {
    await new Promise((resolve) => setTimeout(resolve, 30));
    await api.createNamespacedJob({
      namespace: 'default',
      body: {
        metadata: { name: `churn-${calls}-${i}` },
        spec: {
          template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x', command: ['true'] }] } },
        },
      },
    });
  }
  await done;
  const watches = watchRequests(mark);
  expect(watches.length).toBeGreaterThanOrEqual(2); // the server did end watches meanwhile
  expect(fake.expiredWatches - expiredBefore).toBe(0); // never watched from a version the cache had lost
  expect(listRequests(mark)).toEqual([]); // so no LIST was needed either
}, 60_000);

test('a watch refused with 403 fails the waiting call once with a K8sApiError naming what is missing, and its Job is deleted', async () => {
  fake.refuseWatches = 403;
  try {
    const call = sleeper(3, { pollMs: 1_000 });
    const mark = fake.requests.length;
    const error = await call.run().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(K8sApiError);
    expect((error as K8sApiError).status).toBe(403);
    expect((error as K8sApiError).message).toMatch(/watch on jobs\.batch in namespace default/);
    expect(watchRequests(mark)).toHaveLength(1); // reported, not retried
    await until(
      () => !fake.jobs().some((j) => j.metadata?.annotations?.['memocall.dev/memo-uri'] === call.memoUri),
      10_000,
      'the Job to be deleted',
    );
  } finally {
    fake.refuseWatches = undefined;
  }
}, 60_000);

test('500 waiting calls share ONE watch stream; while they wait, the API server gets a bounded number of requests per second', async () => {
  fake.podStartDelayMs = 1_000_000; // pending: every call keeps waiting
  const controllers: AbortController[] = [];
  const shared = sleeper(60, { pollMs: 1_000 });
  const waits: Promise<unknown>[] = [];
  try {
    const createdBefore = fake.created.length;
    const readsBefore = fake.requests.length;
    for (let i = 0; i < 500; i++) {
      const n = ++calls;
      const memoUri = `file:///tmp/memocall-k8s-watch/memocall-v2/t/watch--sleep/scale${n}`;
      const request = { memoUri, writerId: `writer-${n}`, argv: [] } as unknown as ShimRequest;
      const controller = new AbortController();
      controllers.push(controller);
      waits.push(
        shared.shim(request, { memoUri, functionId: 't/watch--sleep', signal: controller.signal }).catch((e) => e),
      );
    }
    await until(() => fake.created.length - createdBefore === 500, 120_000, '500 Jobs to be created');
    // Every call has made its own requests (LIST by label, create, one GET): now they only wait.
    await until(() => jobReads(readsBefore) >= 500, 120_000, 'every call to read its Job once');
    const mark = fake.requests.length;
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const seconds = (Date.now() - started) / 1000;
    const perSecond = (fake.requests.length - mark) / seconds;
    expect(fake.openWatches).toBeLessThanOrEqual(2);
    expect(perSecond).toBeLessThanOrEqual(5);
  } finally {
    for (const controller of controllers) controller.abort(new Error('scale test over'));
    await Promise.all(waits);
    fake.podStartDelayMs = 0;
  }
}, 180_000);

/** Reads of one Job by name (`GET .../jobs/<name>`) since request number `from`. */
const jobReads = (from: number) =>
  fake.requests.slice(from).filter((r) => /^GET \/apis\/batch\/v1\/namespaces\/[^/]+\/jobs\/[^/?]+$/.test(r)).length;

test('a missing kubeconfig is a ConfigurationError naming where it looked, at once (not an HTTP error to localhost:8080 later)', async () => {
  const saved = { KUBECONFIG: process.env.KUBECONFIG, HOME: process.env.HOME };
  delete process.env.KUBECONFIG;
  process.env.HOME = mkdtempSync(path.join(tmpdir(), 'memocall-nohome-'));
  try {
    const call = sleeper(0, { kubeConfig: undefined });
    const error = await call.run().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    const message = (error as Error).message;
    expect(message).toContain('KUBECONFIG (not set)');
    expect(message).toContain(path.join(process.env.HOME, '.kube', 'config'));
    expect(message).toContain('in-cluster');
  } finally {
    if (saved.KUBECONFIG === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved.KUBECONFIG;
    process.env.HOME = saved.HOME;
  }
}, 60_000);

test('a blob root the pods cannot reach (memory://, or file:// without sharedFilesystem) is refused before any Job is created', async () => {
  const before = fake.created.length;
  const shim = k8s({ image: 'memocall-test:1', kubeConfig: fake.kubeConfig() });
  for (const memoUri of ['file:///tmp/m/memocall-v2/t/f/k1', 'memory://m/memocall-v2/t/f/k2']) {
    const request = { memoUri, writerId: 'w', argv: [] } as unknown as ShimRequest;
    await expect(shim(request, { memoUri, functionId: 't/f' })).rejects.toThrow(ConfigurationError);
  }
  const shared = k8s({ image: 'memocall-test:1', kubeConfig: fake.kubeConfig(), sharedFilesystem: true });
  const memoUri = 'memory://m/memocall-v2/t/f/k3';
  await expect(
    shared({ memoUri, writerId: 'w', argv: [] } as unknown as ShimRequest, { memoUri, functionId: 't/f' }),
  ).rejects.toThrow(/memory:\/\//);
  expect(fake.created.length).toBe(before);
}, 60_000);

test('a 429 burst is waited out as its Retry-After says', async () => {
  const call = sleeper(0);
  fake.throttle(1, 2);
  const mark = fake.requests.length;
  const started = Date.now();
  const done = call.run();
  await until(() => fake.requests.length >= mark + 2, 20_000, 'the request after the 429');
  expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
  await done;
}, 60_000);
