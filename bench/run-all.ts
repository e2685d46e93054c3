// `npm run bench`: the benchmark programs that need no server, one after another, each printing
// its figures (see BENCHMARKS.md for what each measures and the programs that need RGW or Redis).
//   npm run bench               core, bigint, subprocess (20 calls), files
//   npm run bench -- --large    also the 2.5 GiB round trip and the 1.5 GiB argument (minutes, ~7 GiB RAM)
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { benchDir } from './support.js';

const programs: Array<[file: string, args: string[]]> = [
  ['core.js', []],
  ['bigint.js', []],
  ['subprocess.js', ['20']],
  ['files.js', []],
];
if (process.argv.includes('--large')) programs.push(['large-values.js', []]);

let failed = 0;
for (const [file, args] of programs) {
  console.log(`\n### node dist/bench/${file} ${args.join(' ')}`.trimEnd());
  const run = spawnSync(process.execPath, [path.join(benchDir, file), ...args], { stdio: 'inherit' });
  if (run.status !== 0) {
    failed++;
    console.error(`bench ${file} failed (${run.signal ?? `exit ${run.status}`})`);
  }
}
process.exitCode = failed === 0 ? 0 : 1;
