// A caller in its own process (the tests kill it mid-run): calls nap(ms, tag) through the k8s
// shim, configured like a user's program: KubeConfig.loadFromDefault() (KUBECONFIG points at the
// stand-in) and the blob root from MEMOCALL_TEST_ROOT. Argument: ms, tag, lease TTL in ms.
import { k8s, MemoizingRunner } from '../../../src/index.js';
import { nap, useK8sTestRunner } from './k8s-functions.js';

const [ms, tag, ttl] = process.argv.slice(2);
useK8sTestRunner(
  new MemoizingRunner({
    blobRoot: process.env.MEMOCALL_TEST_ROOT!,
    shim: k8s({ image: 'memocall-test:1', sharedFilesystem: true, backoffLimit: 0, watchdogMs: 5_000, pollMs: 1_000 }),
    leaseTtlMs: Number(ttl ?? 90_000),
  }),
);
process.stdout.write(`calling ${process.pid}\n`);
process.stdout.write(`result ${await nap(Number(ms), tag!)}\n`);
