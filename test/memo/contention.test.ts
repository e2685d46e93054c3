import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { finished, spawnTs } from '../support/child.js';
import { useTempDir } from '../support/temp-dir.js';

const tempDir = useTempDir();

test('8 processes calling the same 50 invocations at once compute each exactly once and all get the same results', async () => {
  const { dir, uri } = tempDir();
  const log = path.join(dir, 'executions.log');
  writeFileSync(log, '');
  const children = Array.from({ length: 8 }, () =>
    finished(spawnTs('test/fixtures/contention-worker.ts', [uri, log, '50'])),
  );
  const outcomes = await Promise.all(children);
  for (const o of outcomes) expect(o.code, o.stderr).toBe(0);

  const executions = readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((line) => Number(line.split(' ')[0]));
  expect(executions.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));

  // Every process saw the winner's result, including which process computed it.
  const views = outcomes.map((o) => o.stdout.trim());
  for (const view of views) expect(view).toBe(views[0]);
}, 120_000);
