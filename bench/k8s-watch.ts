// What N calls waiting for their Kubernetes Jobs cost the API server: watch streams open (now and
// at peak) and requests per second while they wait; and the requests one API server restart
// (every watch cut, its watch cache emptied: 410 Gone) costs. Against the STAND-IN API server
// (test/support/fake-kube-api.ts), its Jobs kept pending so every call keeps waiting.
//   npx tsx bench/k8s-watch.ts [N=500] [pollMs=30000] [seconds=10]
//   (or npm run build && node dist/bench/k8s-watch.js ...)
import { setTimeout as sleep } from 'node:timers/promises';
import { k8s } from '../src/index.js';
import type { ShimRequest } from '../src/shims/shim.js';

const n = Number(process.argv[2] ?? 500);
const pollMs = Number(process.argv[3] ?? 30_000);
const seconds = Number(process.argv[4] ?? 10);

const { startFakeKubeApi } = await import('../test/support/fake-kube-api.js');
const fake = await startFakeKubeApi({ podStartDelayMs: 1_000_000_000 });

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 300_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const shim = k8s({ image: 'bench:1', sharedFilesystem: true, kubeConfig: fake.kubeConfig(), pollMs });
const controllers: AbortController[] = [];
const started = performance.now();
const waits: Promise<unknown>[] = [];
for (let i = 0; i < n; i++) {
  const memoUri = `file:///tmp/memocall-bench/memocall-v2/bench/k8s--wait/key${i}`;
  const request = { memoUri, writerId: `writer-${i}`, argv: [] } as unknown as ShimRequest;
  const controller = new AbortController();
  controllers.push(controller);
  waits.push(shim(request, { memoUri, functionId: 'bench/k8s--wait', signal: controller.signal }).catch((e) => e));
}
const reads = () =>
  fake.requests.filter((r) => /^GET \/apis\/batch\/v1\/namespaces\/[^/]+\/jobs\/[^/?]+$/.test(r)).length;
await until(() => fake.created.length === n && reads() >= n, `${n} calls to create and read their Jobs`);
const setupMs = performance.now() - started;
const setupRequests = fake.requests.length;

const mark = fake.requests.length;
const t = performance.now();
await sleep(seconds * 1000);
const perSecond = (fake.requests.length - mark) / ((performance.now() - t) / 1000);
const open = fake.openWatches;

const beforeRestart = fake.requests.length;
const expiredBefore = fake.expiredWatches;
fake.restart();
await until(() => fake.openWatches >= 1 && fake.expiredWatches > expiredBefore, 'the watch to come back');
await sleep(1_000);
const recovery = fake.requests.slice(beforeRestart);
const recoveryWatches = recovery.filter((r) => r.includes('watch=true')).length;
const recoveryLists = recovery.length - recoveryWatches;

for (const controller of controllers) controller.abort(new Error('bench over'));
await Promise.all(waits);
await fake.close();

console.log(`k8s shim, ${n} calls waiting for pending Jobs (stand-in API server, pollMs ${pollMs}):`);
console.log(
  `  setting up: ${setupRequests} requests in ${(setupMs / 1000).toFixed(1)} s (per call: LIST by label, create, one GET)`,
);
console.log(`  watch streams open while waiting: ${open} (peak ${fake.peakWatches})`);
console.log(`  requests while waiting: ${perSecond.toFixed(2)}/s over ${seconds} s`);
console.log(
  `  an API server restart (watches cut, 410 Gone), the next ~2 s: ${recoveryWatches} watch requests (${fake.expiredWatches - expiredBefore} answered 410), ${recoveryLists} LISTs (one to restart from, any others the backup LIST every pollMs)`,
);
