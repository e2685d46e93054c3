// Lost updates of the file store's object lock under clock skew (issue 18, finding 1).
// Run: npx tsc -p tsconfig.json && node dist/bench/lock-skew.js [--rounds 3000] [--skews 60,60,-60,-60,0,0,0,0]
// One racer process per skew (seconds; each non-zero one under Debian's `faketime`), each making
// `rounds` compare-and-swap increments of one file:// object. Target: 0 lost updates.
// The race itself is test/fixtures/skewed-race.ts (also used by the tests), run through tsx.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { projectRoot } from './support.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3000' },
    skews: { type: 'string', default: '60,60,-60,-60,0,0,0,0' },
  },
});
const skews = values.skews.split(',').map(Number);
const tsxLoader = pathToFileURL(path.join(projectRoot, 'node_modules/tsx/dist/loader.mjs')).href;
const race = path.join(projectRoot, 'test/fixtures/skewed-race.ts');
const r = spawnSync(process.execPath, ['--import', tsxLoader, race, values.rounds, ...skews.map(String)], {
  cwd: projectRoot,
  encoding: 'utf8',
});
if (r.status !== 0) throw new Error(`skewed-race.ts failed (${r.status}): ${r.stderr}`);
const result = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
  expected: number;
  lost: number;
  conflicts: number;
  clockOffsetsMs: number[];
  elapsedMs: number;
};
console.log(`${skews.length} processes (skews ${skews.join(', ')} s) × ${values.rounds} increments`);
console.log(`  clocks measured: ${result.clockOffsetsMs.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')}`);
console.log(`  lost updates: ${result.lost} of ${result.expected} (target 0); conflicts retried: ${result.conflicts}`);
console.log(
  `  ${(result.elapsedMs / 1000).toFixed(1)} s, ${((result.expected / result.elapsedMs) * 1000).toFixed(0)} increments/s`,
);
