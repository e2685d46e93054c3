// A caller that dies while its Job runs, and the caller after it, against the Kubernetes
// STAND-IN (test/support/fake-kube-api.ts; no real cluster). The first caller is a separate
// process (test/shims/k8s/k8s-caller.ts) configured from KUBECONFIG, killed with SIGKILL: no clean-up.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { k8s, MemoizingRunner } from '../../../src/index.js';
import { LABEL, memoUriHash } from '../../../src/shims/k8s/job-naming.js';
import { finished, spawnTs, waitForLine } from '../../support/child.js';
import { startFakeKubeApi, type FakeKubeApi } from '../../support/fake-kube-api.js';
import { useTempDir } from '../../support/temp-dir.js';
import { nap, useK8sTestRunner } from './k8s-functions.js';
import { until } from '../../support/until.js';

const tempDir = useTempDir();
let fake: FakeKubeApi;

beforeAll(async () => {
  fake = await startFakeKubeApi({ echoOutput: process.env.MEMOCALL_TEST_VERBOSE === '1' });
});
afterAll(async () => {
  await fake?.close();
});

function setup() {
  const { dir, uri } = tempDir();
  const log = path.join(dir, 'executions.log');
  writeFileSync(log, '');
  const kubeconfig = path.join(dir, 'kubeconfig.yaml');
  fake.writeKubeconfig(kubeconfig);
  process.env.MEMOCALL_TEST_ROOT = uri;
  process.env.MEMOCALL_TEST_LOG = log;
  // The second caller, in this process.
  useK8sTestRunner(
    new MemoizingRunner({
      blobRoot: uri,
      shim: k8s({ image: 'memocall-test:1', sharedFilesystem: true, kubeConfig: fake.kubeConfig(), pollMs: 1_000 }),
      waitInitialMs: 50,
      waitMaxMs: 200,
    }),
  );
  const env = { KUBECONFIG: kubeconfig, MEMOCALL_TEST_ROOT: uri, MEMOCALL_TEST_LOG: log };
  return { env, executions: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

const jobsOf = (memoUri: string) =>
  fake.created.filter((job) => job.metadata?.labels?.[LABEL.memoUriHash] === memoUriHash(memoUri));

test('a caller killed mid-run: the next caller waits for the same Job (the one labelled with this memo URI) instead of computing again', async () => {
  const s = setup();
  const memoUri = await nap.memoUri(3_000, 'reattach');
  const first = spawnTs('test/shims/k8s/k8s-caller.ts', ['3000', 'reattach'], { env: s.env });
  const firstDone = finished(first);
  await until(() => s.executions().length === 1, 45_000, 'the Job to start the function');
  first.kill('SIGKILL');
  expect((await firstDone).signal).toBe('SIGKILL');

  const [job] = jobsOf(memoUri);
  const podPid = fake.attempts(job!.metadata!.name!)[0]!.pid!;
  // The Job's remote keeps the lease alive: the second caller finds it held and waits for it.
  expect(await nap(3_000, 'reattach')).toBe(`napped 3000 in ${podPid}`);
  expect(jobsOf(memoUri)).toHaveLength(1);
  expect(fake.attempts(job!.metadata!.name!)).toHaveLength(1);
  expect(s.executions()).toEqual([`nap "reattach" ${podPid}`]);
}, 90_000);

test('a caller killed while its Job was still pending: once the lease expires the next caller replaces that Job (deleted, never run) with its own', async () => {
  const s = setup();
  const memoUri = await nap.memoUri(200, 'pending');
  fake.podStartDelayMs = 60_000; // pending: not scheduled yet, the image not pulled...
  let first: ReturnType<typeof spawnTs>;
  try {
    first = spawnTs('test/shims/k8s/k8s-caller.ts', ['200', 'pending', '1500'], { env: s.env });
    await waitForLine(first, 'calling', 45_000);
    await until(() => jobsOf(memoUri).length === 1, 30_000, 'the first Job to be created');
  } finally {
    fake.podStartDelayMs = 0;
  }
  const firstDone = finished(first);
  first.kill('SIGKILL');
  await firstDone;

  const result = await nap(200, 'pending');
  const jobs = jobsOf(memoUri);
  expect(jobs).toHaveLength(2);
  const [stale, own] = jobs.map((j) => j.metadata!.name!);
  expect(jobs[0]!.metadata!.annotations!['memocall.dev/writer-id']).not.toBe(
    jobs[1]!.metadata!.annotations!['memocall.dev/writer-id'],
  );
  expect(fake.jobs().map((j) => j.metadata!.name)).not.toContain(stale); // deleted
  expect(fake.attempts(stale!)).toHaveLength(0); // and never ran
  expect(result).toBe(`napped 200 in ${fake.attempts(own!)[0]!.pid}`);
  expect(s.executions()).toHaveLength(1);
}, 90_000);
