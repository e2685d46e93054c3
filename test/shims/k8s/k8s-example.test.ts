// examples/k8s/pipeline.ts, compiled to dist/ (as in the example's image), run as a user would,
// against the Kubernetes STAND-IN (test/support/fake-kube-api.ts; no real cluster): the cluster
// comes from KUBECONFIG (KubeConfig.loadFromDefault), and each Job's `memocall` is the compiled
// CLI (`node dist/src/cli/main.js`, what the image's /usr/local/bin/memocall runs).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { projectRoot, runCommand } from '../../support/child.js';
import { startFakeKubeApi, type FakeKubeApi } from '../../support/fake-kube-api.js';
import { useTempDir } from '../../support/temp-dir.js';

const tempDir = useTempDir();
let fake: FakeKubeApi;
const program = path.join(projectRoot, 'dist/examples/k8s/pipeline.js');

beforeAll(async () => {
  fake = await startFakeKubeApi({
    memocall: [process.execPath, path.join(projectRoot, 'dist/src/cli/main.js')],
    echoOutput: process.env.MEMOCALL_TEST_VERBOSE === '1',
  });
});
afterAll(async () => {
  await fake?.close();
});

test('the Kubernetes example runs each step as a Job from the compiled code; run again, every step is a hit', async () => {
  if (!existsSync(program)) throw new Error(`${program} is missing: build first (npx tsc -p tsconfig.json)`);
  const { dir, uri } = tempDir();
  const kubeconfig = path.join(dir, 'kubeconfig.yaml');
  fake.writeKubeconfig(kubeconfig, 'pipelines');
  const env = {
    KUBECONFIG: kubeconfig,
    MEMOCALL_BLOB_ROOT: uri,
    MEMOCALL_IMAGE: 'registry.example.com/memocall-example:1',
    MEMOCALL_K8S_SHARED_FILESYSTEM: '1', // the stand-in's pods run on this machine
  };

  const first = await runCommand(process.execPath, [program, '2'], { env, cwd: dir });
  expect(first.stderr).toBe('');
  expect(first.code).toBe(0);
  const jobs = fake.jobs('pipelines');
  expect(jobs).toHaveLength(3); // two walks and the summary, in the kubeconfig context's namespace
  for (const job of jobs) {
    expect(job.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True')).toBe(true);
    expect(job.spec!.template.spec!.containers[0]!.image).toBe('registry.example.com/memocall-example:1');
    expect(job.spec!.template.spec!.containers[0]!.resources?.limits).toEqual({ memory: '512Mi' });
  }
  const walkJobs = jobs
    .filter((j) => j.metadata!.annotations!['memocall.dev/function-id'] === 'examples/k8s/pipeline--simulate')
    .map((j) => j.metadata!.name);
  expect(first.stdout).toContain(`walk 1: ended at`);
  expect(walkJobs).toHaveLength(2);
  for (const name of walkJobs) expect(first.stdout).toContain(`(Job ${name})`);
  expect(first.stdout).toMatch(/summary: \{.*"walks":2/);

  const again = await runCommand(process.execPath, [program, '2'], { env, cwd: dir });
  expect(again.code).toBe(0);
  expect(again.stdout).toBe(first.stdout);
  expect(fake.created.filter((j) => j.metadata?.namespace === 'pipelines')).toHaveLength(3); // no new Job
}, 120_000);
