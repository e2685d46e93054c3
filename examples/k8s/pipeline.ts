// A small memoized pipeline whose steps run as Kubernetes Jobs, one Job per invocation that
// must compute. The Job's container runs `memocall run <memo-uri> --writer-id=<id>`, imports
// this very module (the image holds the same build) to find the function, and stores the
// result in the blob store, where this program reads it. So:
//  - the blob root must be reachable from the cluster and from here (s3://, adls://; file://
//    only with a volume shared by both);
//  - nothing at the top level may do work: `main()` runs only when this file is the program.
// Build and push the image (see Dockerfile beside this file), then:
//   npx tsc -p tsconfig.json
//   MEMOCALL_IMAGE=registry.example.com/memocall-example:1 \
//   MEMOCALL_BLOB_ROOT=s3://my-bucket/memo MEMOCALL_K8S_SECRET=blob-credentials \
//     node dist/examples/k8s/pipeline.js 4
// The cluster comes from ~/.kube/config (or $KUBECONFIG, or the pod's service account). In your
// own code, import from 'memocall' instead of '../../src/index.js'.
import { pathToFileURL } from 'node:url';
import { k8s, MemoizingRunner, useRunner } from '../../src/index.js';

const secret = process.env.MEMOCALL_K8S_SECRET;
const runner = new MemoizingRunner({
  blobRoot: process.env.MEMOCALL_BLOB_ROOT ?? 'file://~/.memocall',
  pipelineId: 'examples/k8s',
  shim: k8s({
    image: process.env.MEMOCALL_IMAGE ?? 'memocall-example:latest',
    // Default: the kubeconfig context's namespace.
    ...(process.env.MEMOCALL_K8S_NAMESPACE ? { namespace: process.env.MEMOCALL_K8S_NAMESPACE } : {}),
    // A file:// blob root only when the pods mount the same path (a single-node test cluster).
    sharedFilesystem: process.env.MEMOCALL_K8S_SHARED_FILESYSTEM === '1',
    resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '512Mi' } },
    // Store credentials from a Secret, never copied into the Job spec.
    ...(secret ? { envFrom: [{ secretRef: { name: secret } }] } : {}),
  }),
});

/** A deterministic random walk: the kind of step worth running once and remembering. */
export const simulate = useRunner(runner, async (seed: number, steps: number) => {
  let state = seed >>> 0 || 1;
  let position = 0;
  for (let i = 0; i < steps; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    position += (state >>> 0) % 2 === 0 ? 1 : -1;
  }
  return {
    seed,
    steps,
    position,
    host: process.env.HOSTNAME ?? 'unknown',
    job: process.env.MEMOCALL_K8S_JOB_NAME ?? null,
  };
});

/** Combines the walks: itself a step (a Job), whose inputs are the stored results above. */
export const summarize = useRunner(runner, async (positions: number[]) => {
  const mean = positions.reduce((sum, p) => sum + p, 0) / positions.length;
  return { walks: positions.length, mean, spread: Math.max(...positions) - Math.min(...positions) };
});

async function main(): Promise<void> {
  const walks = Number(process.argv[2] ?? 4);
  const results = await Promise.all(Array.from({ length: walks }, (_, seed) => simulate(seed + 1, 100_000)));
  for (const r of results) console.log(`walk ${r.seed}: ended at ${r.position} (Job ${r.job})`);
  const summary = await summarize(results.map((r) => r.position));
  console.log(`summary: ${JSON.stringify(summary)}`);
  console.log(`run again: every step is a hit, no Job is created (stored under ${await simulate.memoUri(1, 100_000)})`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
