// The k8s shim's pure parts, without any server: the Job manifest (and that examples/k8s/job.yaml
// shows exactly what the shim builds), names and labels, reading a Job's end from its conditions,
// and the waiter settling exactly once.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { KubeConfig, loadYaml, type V1EnvFromSource, type V1Job, type V1Toleration } from '@kubernetes/client-node';
import { expect, test } from 'vitest';
import { ConfigurationError, k8s, KEY_FORMAT_VERSION } from '../../../src/index.js';
import { buildJobManifest } from '../../../src/shims/k8s/job-manifest.js';
import { jobNameFor, labelValue, memoUriHash } from '../../../src/shims/k8s/job-naming.js';
import { jobEnd } from '../../../src/shims/k8s/job-state.js';
import { waitForJobEnd } from '../../../src/shims/k8s/job-waiter.js';
import { JobWatchHub } from '../../../src/shims/k8s/job-watch-hub.js';
import type { JobWatchEvent, KubeJobs } from '../../../src/shims/k8s/kube-jobs.js';
import { forwardedEnv } from '../../../src/shims/k8s/k8s-options.js';
import { projectRoot } from '../../support/child.js';

const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

test('examples/k8s/job.yaml is exactly the Job the shim builds for its invocation', () => {
  const example = loadYaml<V1Job>(readFileSync(path.join(projectRoot, 'examples/k8s/job.yaml'), 'utf8'));
  const container = example.spec!.template.spec!.containers[0]!;
  const memoUri = example.metadata!.annotations!['memocall.dev/memo-uri']!;
  const writerId = example.metadata!.annotations!['memocall.dev/writer-id']!;
  const functionId = example.metadata!.annotations!['memocall.dev/function-id']!;
  const built = buildJobManifest(
    {
      name: jobNameFor(functionId, memoUri, writerId),
      namespace: 'default',
      image: container.image!,
      memoUri,
      functionId,
      writerId,
      // Secrets in the caller's environment are never copied into the Job.
      callerEnv: {
        MEMOCALL_BLOB_ROOT: 's3://my-bucket/memo',
        AWS_REGION: 'eu-west-1',
        AWS_SECRET_ACCESS_KEY: 'secret',
        MEMOCALL_CODE_ROOT: '/home/me/project',
      },
    },
    {
      image: 'unused',
      resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '512Mi' } },
      envFrom: [{ secretRef: { name: 'blob-credentials' } }],
    },
  );
  expect(built).toEqual(example);
});

test('Job names: at most 63 characters, DNS-1123, readable, one per lease holder', () => {
  const memoUri = `file:///memo/${KEY_FORMAT_VERSION}/p/examples~fibonacci--fibonacci/abc`;
  const name = jobNameFor('examples/fibonacci--fibonacci', memoUri, 'w1');
  expect(name).toMatch(/^fibonacci-[0-9a-f]{12}$/);
  expect(jobNameFor('examples/fibonacci--fibonacci', memoUri, 'w1')).toBe(name);
  expect(jobNameFor('examples/fibonacci--fibonacci', memoUri, 'w2')).not.toBe(name);
  for (const id of [
    'a'.repeat(300),
    'Ünïcödé/Module--Ëxport_Name',
    '---',
    '',
    'x--',
    'deep/path/to/module--run',
    '1st--2nd',
  ]) {
    const n = jobNameFor(id, memoUri, '-starts-with-dash');
    expect(n.length).toBeLessThanOrEqual(63);
    expect(n).toMatch(DNS_1123_LABEL);
  }
  expect(jobNameFor('models/train--fit', memoUri, 'w')).toMatch(/^fit-train-/);
});

test('label values are valid whatever the function id; the memo URI hash is a 32-hex-digit label', () => {
  for (const text of ['examples/k8s/pipeline--simulate', '-x-', 'a'.repeat(100), '日本語', ''])
    expect(labelValue(text)).toMatch(LABEL_VALUE);
  expect(labelValue('a'.repeat(100)).length).toBe(63);
  expect(memoUriHash('s3://b/k')).toMatch(/^[0-9a-f]{32}$/);
});

test('forwarded environment: MEMOCALL_* and the AWS region and endpoints, never machine-local paths or secrets', () => {
  const env = {
    MEMOCALL_BLOB_ROOT: 's3://b',
    MEMOCALL_S3_ENDPOINT: 'http://minio:9000',
    MEMOCALL_CODE_ROOT: '/home/me',
    MEMOCALL_CACHE_DIR: '/home/me/.cache',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIA',
    AWS_SECRET_ACCESS_KEY: 'secret',
    AZURE_STORAGE_KEY: 'secret',
    HOME: '/home/me',
  };
  expect(
    forwardedEnv(['MEMOCALL_*', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3'], env),
  ).toEqual({
    MEMOCALL_BLOB_ROOT: 's3://b',
    MEMOCALL_S3_ENDPOINT: 'http://minio:9000',
    AWS_REGION: 'eu-west-1',
  });
  expect(forwardedEnv(['HOME'], env)).toEqual({ HOME: '/home/me' });
  expect(forwardedEnv([], env)).toEqual({});
});

test("a Job's end is read from its terminal conditions only, never from counters", () => {
  const cond = (type: string, status = 'True', reason?: string) => ({ type, status, ...(reason ? { reason } : {}) });
  expect(jobEnd({ status: { succeeded: 1 } })).toBeUndefined();
  expect(jobEnd({ status: { failed: 3 } })).toBeUndefined();
  expect(jobEnd({ status: { conditions: [cond('SuccessCriteriaMet')] } })).toBeUndefined();
  expect(jobEnd({ status: { conditions: [cond('FailureTarget', 'True', 'PodFailurePolicy')] } })).toBeUndefined();
  expect(jobEnd({ status: { conditions: [cond('Complete', 'False')] } })).toBeUndefined();
  expect(jobEnd({ status: { conditions: [cond('SuccessCriteriaMet'), cond('Complete')] } })).toEqual({
    kind: 'complete',
  });
  expect(jobEnd({ status: { conditions: [cond('Failed', 'True', 'PodFailurePolicy')] } })).toMatchObject({
    kind: 'failed-by-policy',
  });
  expect(jobEnd({ status: { conditions: [cond('Failed', 'True', 'BackoffLimitExceeded')] } })).toMatchObject({
    kind: 'failed',
    reason: 'BackoffLimitExceeded',
  });
});

/** A KubeJobs without a server: `get` answers `read()`, LISTs answer `listed()`, the watch is driven by the test. */
function stubJobs(read: () => V1Job | undefined, listed: () => V1Job[]) {
  const state = { reads: 0, lists: 0, stops: 0, emit: undefined as ((e: JobWatchEvent) => void) | undefined };
  const jobs = {
    namespace: 'default',
    async get() {
      state.reads++;
      return read();
    },
    async listWithVersion() {
      state.lists++;
      return { items: listed(), resourceVersion: '5' };
    },
    async watch(_selector: string, _rv: string | undefined, _timeout: number, onEvent: (e: JobWatchEvent) => void) {
      state.emit = onEvent;
      return () => void state.stops++;
    },
  } as unknown as KubeJobs;
  return { jobs, state };
}

test('the waiter settles exactly once when the watch and the backup LIST both see the end, and then the shared watch and LIST stop', async () => {
  const complete: V1Job = {
    metadata: { name: 'j', resourceVersion: '9' },
    status: { conditions: [{ type: 'Complete', status: 'True' }] },
  };
  const running: V1Job = { metadata: { name: 'j', resourceVersion: '5' }, status: { active: 1 } };
  let ended = false;
  const { jobs, state } = stubJobs(
    () => running,
    () => [ended ? complete : running],
  );
  const hub = new JobWatchHub(jobs, { labelSelector: 'a=b', watchdogMs: 60_000, pollMs: 20 });
  const outcome = waitForJobEnd(jobs, hub, 'j');
  while (!state.emit) await new Promise((r) => setTimeout(r, 5));
  ended = true;
  state.emit({ type: 'MODIFIED', object: complete });
  state.emit({ type: 'MODIFIED', object: complete });
  expect(await outcome).toEqual({ kind: 'complete' });
  const listsAtEnd = state.lists;
  await new Promise((r) => setTimeout(r, 100));
  expect(state.lists).toBe(listsAtEnd); // the periodic LIST stopped: nobody listens
  expect(state.stops).toBe(1); // the watch was ended
});

test('a deleted Job ends the wait as vanished; an abort rejects with its reason', async () => {
  const running: V1Job = { metadata: { name: 'j', resourceVersion: '5' }, status: { active: 1 } };
  const { jobs, state } = stubJobs(
    () => running,
    () => [running],
  );
  const hub = new JobWatchHub(jobs, { labelSelector: 'a=b', watchdogMs: 60_000, pollMs: 60_000 });
  const gone = waitForJobEnd(jobs, hub, 'j');
  while (!state.emit) await new Promise((r) => setTimeout(r, 5));
  state.emit({ type: 'DELETED', object: running });
  expect(await gone).toEqual({ kind: 'vanished' });

  const controller = new AbortController();
  const aborted = waitForJobEnd(jobs, hub, 'j', { signal: controller.signal });
  controller.abort(new Error('stop'));
  await expect(aborted).rejects.toThrow('stop');
});

test('k8s() options are checked when the shim is made; nothing connects before the first call', () => {
  expect(() => k8s({ image: '' })).toThrow(ConfigurationError);
  expect(() => k8s({ image: 'i', backoffLimit: -1 })).toThrow(/backoffLimit/);
  expect(() => k8s({ image: 'i', pollMs: 0 })).toThrow(/pollMs/);
  // No kubeconfig is read here: a module building the shim also loads inside the Job's container.
  expect(typeof k8s({ image: 'i', kubeConfig: undefined })).toBe('function');
  // The options declare their own Kubernetes shapes (no client types in memocall's .d.ts), and
  // the client's objects fit them.
  const secret: V1EnvFromSource = { secretRef: { name: 's' } };
  const toleration: V1Toleration = { key: 'gpu', operator: 'Exists' };
  const withClientTypes = k8s({
    image: 'i',
    kubeConfig: new KubeConfig(),
    envFrom: [secret],
    tolerations: [toleration],
    transform: (job: V1Job) => job,
  });
  expect(typeof withClientTypes).toBe('function');
  // @ts-expect-error the image is required
  expect(() => k8s({})).toThrow(ConfigurationError);
  // @ts-expect-error imagePullPolicy takes Kubernetes' three values only
  k8s({ image: 'i', imagePullPolicy: 'Sometimes' });
});
