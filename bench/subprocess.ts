// Per-invocation overhead of the subprocess shim: N sequential cold invocations of a trivial
// function through subprocess(), minus the same through samethread() measured in the same run.
// Also the parts a child's start-up is made of, to see where the time goes, and the same for a
// TypeScript function module run by a tsx program (memocall installed compiled, as from npm):
// children running its compiled twin (the default) and children loading tsx.
//   npm run build && node dist/bench/subprocess.js [N=20]
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { trivial, useShim } from './subprocess-fn.js';
import { makeTypeScriptApp } from './subprocess-ts-app.js';
import { fmtMs, freshBlobRoot, projectRoot, quantile } from './support.js';

const n = Number(process.argv[2] ?? 20);

/** `n` sequential cold calls; with `pauseMs`, a pause before each (untimed), as between real work. */
async function series(shim: 'samethread' | 'subprocess', prestart?: number, pauseMs = 0): Promise<number[]> {
  useShim(freshBlobRoot(`subprocess-${shim}`), shim, prestart === undefined ? {} : { prestart });
  await trivial(-1); // warm up this process's code paths (and the file store)
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    if (pauseMs) await sleep(pauseMs);
    const t = performance.now();
    if ((await trivial(i)) !== i + 1) throw new Error('wrong result');
    times.push(performance.now() - t);
  }
  return times;
}

/** Mean wall time of running `node <args>` to its end, `count` times. */
function spawnMs(args: string[], count = Math.min(n, 10)): number {
  const t = performance.now();
  for (let i = 0; i < count; i++) {
    try {
      execFileSync(process.execPath, args, { stdio: 'ignore', cwd: projectRoot });
    } catch {
      // A usage error exit is fine: only the start-up is timed.
    }
  }
  return (performance.now() - t) / count;
}

const stats = (times: number[]) => {
  const sorted = [...times].sort((a, b) => a - b);
  return {
    mean: times.reduce((s, x) => s + x, 0) / times.length,
    median: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
  };
};

const same = stats(await series('samethread'));
const sub = stats(await series('subprocess'));
const overhead = sub.mean - same.mean;
console.log(`samethread, ${n} sequential cold invocations: mean ${fmtMs(same.mean)}, median ${fmtMs(same.median)}`);
console.log(
  `subprocess (default: 1 child started ahead), ${n} sequential cold invocations: mean ${fmtMs(sub.mean)}, median ${fmtMs(sub.median)}, p90 ${fmtMs(sub.p90)}`,
);
console.log(`subprocess overhead per invocation: ${(overhead / 1000).toFixed(3)} s   [target ≤ 0.15 s; mops 1.84 s]`);
for (const prestart of [0, 2]) {
  const other = stats(await series('subprocess', prestart));
  console.log(
    `  with prestart ${prestart}: mean ${fmtMs(other.mean)}, overhead ${((other.mean - same.mean) / 1000).toFixed(3)} s`,
  );
}
// Back to back, a spare started when the previous call began is still starting when the next call
// comes: calls alternate between a ready spare and a half-started one. With work between calls
// (any function taking longer than a child's start-up), every call finds its spare ready.
const spaced = stats(await series('subprocess', 1, 500));
console.log(
  `  calls 0.5 s apart (the spare is ready): mean ${fmtMs(spaced.mean)}, overhead ${((spaced.mean - same.mean) / 1000).toFixed(3)} s`,
);

// Where a cold child's time goes: Node itself, memocall's run entry, memocall's public API (which
// the function's module imports), each loaded in a fresh process.
const importing = (...files: string[]) => [
  '--input-type=module',
  '-e',
  files.map((f) => `await import(${JSON.stringify(pathToFileURL(f).href)});`).join(' '),
];
const runCommandFile = path.join(projectRoot, 'dist/src/cli/run-command.js');
const apiFile = path.join(projectRoot, 'dist/src/index.js');
const bare = spawnMs(['-e', '0']);
const tsxUrl = pathToFileURL(createRequire(path.join(projectRoot, 'package.json')).resolve('tsx')).href;
const tsx = spawnMs(['--import', tsxUrl, '-e', '0']);
const entry = spawnMs(importing(runCommandFile));
const api = spawnMs(importing(runCommandFile, apiFile));
console.log(
  `  a cold child: node -e 0 ${fmtMs(bare)}; + run entry imports ${fmtMs(entry - bare)}; + memocall's public API ${fmtMs(api - entry)}`,
);
console.log(
  `  TypeScript through tsx adds ${fmtMs(tsx - bare)} to each child's start (its loader), before TypeScript files are compiled`,
);

// A TypeScript function module (the caller runs under tsx; memocall is installed compiled).
const { app, main } = makeTypeScriptApp(projectRoot);
const tsRun = execFileSync(process.execPath, ['--import', tsxUrl, main, String(n), freshBlobRoot('subprocess-ts')], {
  cwd: app,
  encoding: 'utf8',
  maxBuffer: 16 * 1024 * 1024,
});
const tsSeries = new Map(
  tsRun
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      const { mode, times } = JSON.parse(line) as { mode: string; times: number[] };
      return [mode, stats(times)] as const;
    }),
);
const tsSame = tsSeries.get('samethread')!;
for (const [mode, label] of [
  ['compile', 'compiled once with esbuild, children on plain node (default)'],
  ['tsx', "typescript: 'tsx', children load tsx"],
] as const) {
  const series = tsSeries.get(mode)!;
  console.log(
    `TypeScript module, subprocess ${label}: mean ${fmtMs(series.mean)}, median ${fmtMs(series.median)}, overhead ${((series.mean - tsSame.mean) / 1000).toFixed(3)} s   [target ≤ 0.15 s]`,
  );
}
const tsCompiledOverhead = tsSeries.get('compile')!.mean - tsSame.mean;
console.log(
  `  ratios in this run: TypeScript (compiled) / JavaScript overhead ${(tsCompiledOverhead / overhead).toFixed(2)}; TypeScript through tsx / JavaScript ${((tsSeries.get('tsx')!.mean - tsSame.mean) / overhead).toFixed(2)}`,
);
