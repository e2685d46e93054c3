// Runs one measurement in a fresh process (so no warm caches) and prints one JSON line.
import { createHash } from 'node:crypto';
import { MemoizingRunner, useRunner } from '../src/index.js';

const [mode, blobRoot, countArg] = process.argv.slice(2);
const count = Number(countArg ?? 1000);
const runner = new MemoizingRunner({ blobRoot: blobRoot! });
export const square = useRunner(runner, async (n: number) => n * n, { id: 'bench/square' });
export const byteSum = useRunner(runner, async (data: Uint8Array) => data.byteLength, { id: 'bench/byteLength' });

function out(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

if (mode === 'fill') {
  for (let i = 0; i < count; i++) await square(i);
  out({ filled: count });
} else if (mode === 'hits-from-storage') {
  // Every call is a different invocation already stored: each one reads `result` from storage.
  const times: number[] = [];
  const first0 = performance.now();
  await square(0);
  const first = performance.now() - first0;
  for (let i = 1; i < count; i++) {
    const t = performance.now();
    await square(i);
    times.push(performance.now() - t);
  }
  out({ first, times });
} else if (mode === 'big-arg') {
  const mib = Number(process.argv[5] ?? 100);
  const data = new Uint8Array(mib * 1024 * 1024);
  for (let i = 0; i < data.length; i += 4096) data[i] = i % 251;
  await byteSum(data); // store it (a miss)
  const rounds = 5;
  const hashMs: number[] = [];
  const hitMs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let t = performance.now();
    createHash('sha256').update(data).digest();
    hashMs.push(performance.now() - t);
    t = performance.now();
    await byteSum(data);
    hitMs.push(performance.now() - t);
  }
  out({ hashMs, hitMs });
} else {
  throw new Error(`unknown mode ${mode}`);
}
