// The warm worker pool on Redis: per-invocation overhead of queue() with 2 warm workers
// (N sequential invocations of a trivial function, minus the same through samethread()), the
// bare BullMQ round trip for comparison, and M invocations at once through the 2 workers.
//   npm run build && node dist/bench/queue.js [N=200] [M=1000] [worker concurrency=1]
// Needs Debian's redis-server on PATH (started here on a free loopback port).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { queue } from '../src/index.js';
import { trivial, useBenchShim } from './queue-fn.js';
import { startBenchRedis } from './queue-redis.js';
import { fmtMs, freshBlobRoot, projectRoot, quantile } from './support.js';

const n = Number(process.argv[2] ?? 200);
const m = Number(process.argv[3] ?? 1000);
const workerConcurrency = Number(process.argv[4] ?? 1);

const stats = (times: number[]) => {
  const sorted = [...times].sort((a, b) => a - b);
  return {
    mean: times.reduce((s, x) => s + x, 0) / times.length,
    median: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
  };
};

async function series(offset: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    if ((await trivial(offset + i)) !== offset + i + 1) throw new Error('wrong result');
    times.push(performance.now() - t);
  }
  return times;
}

function startWorker(url: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      path.join(projectRoot, 'dist/src/cli/main.js'),
      'worker',
      '--queue',
      url,
      '--concurrency',
      String(workerConcurrency),
    ],
    {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('listening on queue')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${out}`)));
  });
}

/** add → completed event, with a no-op worker in this process: BullMQ's own share. */
async function bareBullmqRoundTrip(url: string): Promise<number[]> {
  const connection = { host: new URL(url).hostname, port: Number(new URL(url).port) };
  const q = new Queue('raw', { connection });
  const events = new QueueEvents('raw', { connection });
  const worker = new Worker('raw', async () => 1, { connection });
  await Promise.all([q.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()]);
  const times: number[] = [];
  for (let i = 0; i < n + 20; i++) {
    const t = performance.now();
    const job = await q.add('noop', { i });
    await job.waitUntilFinished(events);
    if (i >= 20) times.push(performance.now() - t);
  }
  await Promise.all([worker.close(), events.close(), q.close()]);
  return times;
}

const redis = await startBenchRedis();
const workers = await Promise.all([startWorker(`${redis.url}/bench`), startWorker(`${redis.url}/bench`)]);
try {
  useBenchShim(freshBlobRoot('queue-samethread'), undefined);
  await trivial(-1);
  const same = stats(await series(0));

  const shim = queue({ connection: `${redis.url}/bench` });
  useBenchShim(freshBlobRoot('queue'), shim);
  for (let i = 0; i < 20; i++) await trivial(-100 - i); // warm: workers have imported the module, connections are open
  const viaQueue = stats(await series(0));
  const bare = stats(await bareBullmqRoundTrip(redis.url));

  useBenchShim(freshBlobRoot('queue-many'), shim);
  await trivial(-1);
  const t = performance.now();
  const results = await Promise.all(Array.from({ length: m }, (_, i) => trivial(i)));
  const wall = performance.now() - t;
  if (results.some((r, i) => r !== i + 1)) throw new Error('wrong result');
  await shim.close();

  console.log(`samethread, ${n} sequential invocations: mean ${fmtMs(same.mean)}, median ${fmtMs(same.median)}`);
  console.log(
    `queue, 2 warm workers (concurrency ${workerConcurrency}), ${n} sequential invocations: mean ${fmtMs(viaQueue.mean)}, median ${fmtMs(viaQueue.median)}, p90 ${fmtMs(viaQueue.p90)}`,
  );
  console.log(
    `queue overhead per invocation (mean − samethread mean): ${fmtMs(viaQueue.mean - same.mean)}   [target ≤ 10 ms]`,
  );
  console.log(
    `  of which BullMQ's bare round trip (add → completed event, no-op worker in this process): mean ${fmtMs(bare.mean)}, median ${fmtMs(bare.median)}`,
  );
  console.log(
    `${m} invocations at once through 2 workers (concurrency ${workerConcurrency}): wall ${fmtMs(wall)}, ${((m / wall) * 1000).toFixed(0)} invocations/s, ${fmtMs(wall / m)} per invocation`,
  );
} finally {
  for (const w of workers) w.kill('SIGTERM');
  await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(undefined) : w.once('exit', r)))));
  redis.stop();
}
