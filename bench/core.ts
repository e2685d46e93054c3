// Core figures of BENCHMARKS.md: memo hits, cold invocations, big arguments, import time, scale.
//   npm run build && node dist/bench/core.js
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { MemoizingRunner, useRunner } from '../src/index.js';
import { fmtMs, freshBlobRoot, inFreshProcess, projectRoot, quantile } from './support.js';

const rows: Array<[string, string, string]> = [];
const report = (what: string, figure: string, target: string) => {
  rows.push([what, figure, target]);
  console.log(`${what}: ${figure}   [target ${target}]`);
};

// 1. Memo hit from storage in a fresh process.
{
  const root = freshBlobRoot('hits');
  inFreshProcess('core-worker.js', ['fill', root, '2000']);
  const { first, times } = inFreshProcess<{ first: number; times: number[] }>('core-worker.js', [
    'hits-from-storage',
    root,
    '2000',
  ]);
  const sorted = [...times].sort((a, b) => a - b);
  const mean = times.reduce((s, t) => s + t, 0) / times.length;
  report(
    'memo hit from storage, fresh process, small argument (median of 1,999 distinct hits)',
    `${fmtMs(quantile(sorted, 0.5))} (mean ${fmtMs(mean)}, p99 ${fmtMs(quantile(sorted, 0.99))}; very first call incl. lazy init ${fmtMs(first)})`,
    '≤ 0.1 ms; mops 4.8 ms',
  );
}

// 2. Repeated hit in one process.
{
  const runner = new MemoizingRunner({ blobRoot: freshBlobRoot('repeat') });
  const square = useRunner(runner, async (n: number) => n * n, { id: 'bench/repeat' });
  await square(12);
  const n = 200_000;
  for (let i = 0; i < 10_000; i++) await square(12);
  const t = performance.now();
  for (let i = 0; i < n; i++) await square(12);
  report('repeated hit in one process (mean of 200,000)', fmtMs((performance.now() - t) / n), '≤ 0.01 ms');
}

// 3. Cold invocations with lease on the file store.
{
  const runner = new MemoizingRunner({ blobRoot: freshBlobRoot('cold') });
  const square = useRunner(runner, async (n: number) => n * n, { id: 'bench/cold' });
  for (let i = 0; i < 200; i++) await square(-1 - i); // warm up the code paths
  const n = 2000;
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await square(i);
    times.push(performance.now() - t);
  }
  const sorted = times.sort((a, b) => a - b);
  const mean = times.reduce((s, x) => s + x, 0) / n;
  report(
    'cold invocation with lease, file store (2,000 sequential)',
    `mean ${fmtMs(mean)}, median ${fmtMs(quantile(sorted, 0.5))}, p99 ${fmtMs(quantile(sorted, 0.99))}`,
    '≤ 1 ms; mops 49 ms',
  );
}

// 4. Hit with a 100 MiB Uint8Array argument vs one SHA-256 pass, same process, same bytes.
{
  const { hashMs, hitMs } = inFreshProcess<{ hashMs: number[]; hitMs: number[] }>('core-worker.js', [
    'big-arg',
    freshBlobRoot('big'),
    '0',
    '100',
  ]);
  const hash = Math.min(...hashMs);
  const hit = Math.min(...hitMs);
  report(
    'hit with a 100 MiB Uint8Array argument (best of 5)',
    `${fmtMs(hit)} vs one node:crypto SHA-256 pass ${fmtMs(hash)}: ${(hit / hash).toFixed(2)}×`,
    '≤ 1.2×; mops 626 ms',
  );
}

// 5. import('memocall') in a fresh process, and the whole process vs an empty one.
{
  const index = path.join(projectRoot, 'dist/src/index.js');
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const t = performance.now(); await import(${JSON.stringify(index)}); console.log(performance.now() - t);`,
      ],
      { encoding: 'utf8' },
    );
    times.push(Number(out.trim()));
  }
  const median = quantile(
    [...times].sort((a, b) => a - b),
    0.5,
  );
  report("import('memocall') in a fresh process (median of 7)", fmtMs(median), '≤ 150 ms; mops 1.47 s');
}

// 6. 100,000 distinct invocations in one process: time and peak RSS.
{
  const out = inFreshProcess<{ ms: number; maxRssMiB: number }>('scale-worker.js', [freshBlobRoot('scale'), '100000']);
  report(
    '100,000 distinct invocations in one process (file store, samethread)',
    `${(out.ms / 1000).toFixed(1)} s (${fmtMs(out.ms / 100_000)} each), peak RSS ${out.maxRssMiB.toFixed(0)} MiB`,
    'completes; ≤ 1 GiB',
  );
}

console.log('\n| measurement | figure | target |\n|---|---|---|');
for (const [what, figure, target] of rows) console.log(`| ${what} | ${figure} | ${target} |`);
