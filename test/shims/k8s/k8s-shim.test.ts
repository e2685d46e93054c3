// The k8s shim against the Kubernetes STAND-IN (test/support/fake-kube-api.ts): a loopback HTTP
// server serving the batch/v1 Jobs calls the client makes, running each Job's container command
// as a local process. No real cluster is exercised here.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  CallAbortedError,
  K8sApiError,
  K8sJobFailedError,
  k8s,
  lookupBlobStore,
  MemoizingRunner,
  RemoteError,
  withSignal,
  type K8sOptions,
} from '../../../src/index.js';
import { readLease } from '../../../src/execute/lease.js';
import { memoFile } from '../../../src/protocol/memo-uri.js';
import { LABEL, memoUriHash } from '../../../src/shims/k8s/job-naming.js';
import { startFakeKubeApi, type FakeKubeApi } from '../../support/fake-kube-api.js';
import { parkingShim } from '../../support/parking-shim.js';
import { useTempDir } from '../../support/temp-dir.js';
import { crash, explode, nap, square, useK8sTestRunner } from './k8s-functions.js';
import { until } from '../../support/until.js';

const tempDir = useTempDir();
let fake: FakeKubeApi;

beforeAll(async () => {
  fake = await startFakeKubeApi({ echoOutput: process.env.MEMOCALL_TEST_VERBOSE === '1' });
});
afterAll(async () => {
  await fake?.close();
});

/** A fresh blob root and log; the runner's shim talks to the stand-in. */
function setup(shimOptions: Partial<K8sOptions> = {}) {
  const { dir, uri } = tempDir();
  const log = path.join(dir, 'executions.log');
  writeFileSync(log, '');
  // MEMOCALL_* variables are forwarded into every Job by default: the pods see these too.
  process.env.MEMOCALL_TEST_ROOT = uri;
  process.env.MEMOCALL_TEST_LOG = log;
  const runner = new MemoizingRunner({
    blobRoot: uri,
    shim: k8s({
      image: 'memocall-test:1',
      sharedFilesystem: true, // the stand-in's pods run on this machine
      kubeConfig: fake.kubeConfig(),
      watchdogMs: 5_000,
      pollMs: 2_000,
      ...shimOptions,
    }),
    waitInitialMs: 50,
    waitMaxMs: 250,
  });
  useK8sTestRunner(runner);
  return { dir, uri, executions: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

const jobsOf = (memoUri: string) =>
  fake.created.filter((job) => job.metadata?.labels?.[LABEL.memoUriHash] === memoUriHash(memoUri));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('a call runs as a Job: the pod runs `memocall run <memo-uri> --writer-id=<lease holder>`, the result comes back, a second call is a hit', async () => {
  const s = setup();
  const value = await square(12);
  expect(value.squared).toBe(144);
  expect(value.pid).not.toBe(process.pid);
  expect(await square(12)).toEqual(value); // a hit: no second Job

  const memoUri = await square.memoUri(12);
  const jobs = jobsOf(memoUri);
  expect(jobs).toHaveLength(1);
  const job = jobs[0]!;
  expect(value.job).toBe(job.metadata!.name); // the pod saw its Job's name
  const container = job.spec!.template.spec!.containers[0]!;
  const lease = await readLease(lookupBlobStore(memoUri), memoFile.lease(memoUri));
  expect(container.command).toEqual(['memocall']);
  expect(container.args).toEqual(['run', memoUri, `--writer-id=${lease!.record.writerId}`]);
  expect(container.env).toContainEqual({ name: 'MEMOCALL_TEST_ROOT', value: s.uri });
  expect(job.metadata!.annotations!['memocall.dev/memo-uri']).toBe(memoUri);
  expect(
    fake
      .jobs()
      .find((j) => j.metadata?.name === job.metadata!.name)
      ?.status?.conditions?.map((c) => c.type),
  ).toContain('Complete');
  expect(s.executions()).toEqual([`square 12 ${value.pid}`]);
}, 60_000);

test('an error thrown in the Job is re-thrown here with its remote stack, and the pod failure policy fails the Job at once (no retry)', async () => {
  const s = setup({ backoffLimit: 3 });
  const error = await explode('gpu').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RemoteError);
  const remote = error as RemoteError;
  expect(remote.name).toBe('BudgetError');
  expect(remote.message).toBe('over budget for gpu');
  expect(remote.remoteStack).toMatch(/^BudgetError: over budget for gpu\n\s+at .*k8s-functions\.ts:\d+/);
  expect(remote.props).toEqual({ budget: 7 });
  expect(remote.cause).toBeInstanceOf(RemoteError);

  const [job] = jobsOf(await explode.memoUri('gpu'));
  const failed = fake
    .jobs()
    .find((j) => j.metadata?.name === job!.metadata!.name)!
    .status!.conditions!.find((c) => c.type === 'Failed');
  expect(failed?.reason).toBe('PodFailurePolicy');
  expect(fake.attempts(job!.metadata!.name!)).toHaveLength(1);
  expect(s.executions()).toHaveLength(1);
}, 60_000);

test('an infrastructure failure is retried up to backoffLimit, then rejects with K8sJobFailedError; the lease is released and nothing stored', async () => {
  setup({ backoffLimit: 1 });
  const error = await crash(3).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(K8sJobFailedError);
  expect((error as K8sJobFailedError).reason).toBe('BackoffLimitExceeded');
  expect((error as K8sJobFailedError).code).toBe('MEMOCALL_K8S_JOB_FAILED');
  const memoUri = await crash.memoUri(3);
  const [job] = jobsOf(memoUri);
  expect(fake.attempts(job!.metadata!.name!).map((a) => a.exitCode)).toEqual([3, 3]);
  const store = lookupBlobStore(memoUri);
  expect(await store.head(memoFile.result(memoUri))).toBeNull();
  expect(await store.head(memoFile.error(memoUri))).toBeNull();
  expect((await readLease(store, memoFile.lease(memoUri)))?.record.releasedAt).toBeDefined();
}, 60_000);

test('aborting a call deletes its Job (the pod process is stopped) and releases the lease', async () => {
  const s = setup();
  const controller = new AbortController();
  const call = withSignal(controller.signal, () => nap(60_000, 'aborted'));
  const outcome = call.catch((e: unknown) => e);
  await until(() => s.executions().length === 1, 30_000, 'the pod to start the function');
  const memoUri = await nap.memoUri(60_000, 'aborted');
  const [job] = jobsOf(memoUri);
  const pid = fake.attempts(job!.metadata!.name!)[0]!.pid!;
  controller.abort(new Error('user gave up'));
  expect(await outcome).toBeInstanceOf(CallAbortedError);
  await until(
    () => !fake.jobs().some((j) => j.metadata?.name === job!.metadata!.name),
    10_000,
    'the Job to be deleted',
  );
  await until(() => !alive(pid), 10_000, 'the pod process to end');
  expect(
    fake.requests.some((r) =>
      r.startsWith(`DELETE /apis/batch/v1/namespaces/default/jobs/${job!.metadata!.name}?propagationPolicy=Foreground`),
    ),
  ).toBe(true);
  const lease = await readLease(lookupBlobStore(memoUri), memoFile.lease(memoUri));
  expect(lease?.record.releasedAt).toBeDefined();
  expect(await lookupBlobStore(memoUri).head(memoFile.result(memoUri))).toBeNull();
}, 60_000);

test('a watch that falls silent is restarted by the watchdog, and the Job is also read directly: the call still ends', async () => {
  setup({ watchdogMs: 400, pollMs: 60_000 });
  fake.silentWatches = true;
  try {
    const watches = () => fake.requests.filter((r) => r.includes('watch=true')).length;
    const before = watches();
    // Runs past a few watchdog periods: each silent watch is dropped, the Job read, a new watch opened.
    expect(await nap(2_500, 'silent watches')).toMatch(/^napped 2500 in \d+$/);
    expect(watches() - before).toBeGreaterThanOrEqual(2);

    setup({ watchdogMs: 60_000, pollMs: 300 });
    expect((await square(6)).squared).toBe(36); // the backup read alone
  } finally {
    fake.silentWatches = false;
  }
}, 60_000);

test('the same lease holder calling the shim again (a retry after a lost answer) waits for its existing Job instead of creating another', async () => {
  const s = setup();
  // Park the call: the lease is held and the invocation stored, as the runner does before a shim runs.
  const parking = parkingShim();
  useK8sTestRunner(new MemoizingRunner({ blobRoot: s.uri, shim: parking.shim, waitInitialMs: 50, waitMaxMs: 250 }));
  const call = square(21);
  const parked = await parking.next();
  const shim = k8s({ image: 'memocall-test:1', sharedFilesystem: true, kubeConfig: fake.kubeConfig(), pollMs: 1_000 });
  const ctx = { memoUri: parked.memoUri, functionId: square.functionId };
  const first = shim(parked.request, ctx);
  await until(() => jobsOf(parked.memoUri).length === 1, 20_000, 'the Job to be created');
  await Promise.all([first, shim(parked.request, ctx)]);
  expect(jobsOf(parked.memoUri)).toHaveLength(1);
  parked.finish();
  const value = await call;
  expect(value.squared).toBe(441);
  expect(s.executions()).toEqual([`square 21 ${value.pid}`]);
}, 60_000);

test('a Job the API server rejects fails the call with K8sApiError (status and server message), and the lease is released', async () => {
  setup({
    // A transform breaking the Job: label values may not contain spaces.
    transform: (job) => ({
      ...job,
      metadata: { ...job.metadata, labels: { ...job.metadata!.labels, team: 'not a valid value' } },
    }),
  });
  const error = await square(77).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(K8sApiError);
  expect((error as K8sApiError).status).toBe(422);
  expect((error as K8sApiError).message).toContain('not a valid value');
  const memoUri = await square.memoUri(77);
  expect((await readLease(lookupBlobStore(memoUri), memoFile.lease(memoUri)))?.record.releasedAt).toBeDefined();
}, 30_000);
