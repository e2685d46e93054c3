// 100,000 distinct invocations in one process: prints wall time and peak RSS as JSON.
import { MemoizingRunner, useRunner } from '../src/index.js';

const [blobRoot, countArg] = process.argv.slice(2);
const count = Number(countArg ?? 100_000);
const runner = new MemoizingRunner({ blobRoot: blobRoot! });
export const record = useRunner(runner, async (i: number) => ({ i, label: `row-${i}` }), { id: 'bench/record' });

const t = performance.now();
// 8 at a time, as a pipeline fanning out would.
let next = 0;
await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (next < count) await record(next++);
  }),
);
const ms = performance.now() - t;
process.stdout.write(`${JSON.stringify({ ms, maxRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`);
