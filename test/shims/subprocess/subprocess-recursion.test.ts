// Nested and recursive memoized calls through the subprocess shim: every call is its own child
// process with its own memo entry, and the concurrency limit never deadlocks.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { memoFile } from '../../../src/protocol/memo-uri.js';
import { fib, inner, outer } from '../../fixtures/subprocess-functions.js';
import { useTempDir } from '../../support/temp-dir.js';
import { existsSync } from 'node:fs';

const tempDir = useTempDir();

function setup(concurrency: number) {
  const { dir, uri } = tempDir();
  const log = path.join(dir, 'executions.log');
  writeFileSync(log, '');
  process.env.MEMOCALL_TEST_ROOT = uri;
  process.env.MEMOCALL_TEST_LOG = log;
  process.env.MEMOCALL_TEST_CONCURRENCY = String(concurrency);
  return {
    executions: () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ')),
  };
}

test('recursive fibonacci (the const-arrow form) with concurrency 2: every n runs once, in its own child, under its own memo entry', async () => {
  const s = setup(2);
  expect(await fib(6)).toBe(8);
  const runs = s.executions().filter(([name]) => name === 'fib');
  // Each n computed exactly once (fib(n-2) is then a hit), each in a process of its own.
  expect(runs.map(([, n]) => Number(n)).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  expect(new Set(runs.map(([, , pid]) => pid)).size).toBe(7);
  expect(runs.map(([, , pid]) => Number(pid))).not.toContain(process.pid);
  for (let n = 0; n <= 6; n++) expect(existsSync(fileURLToPath(memoFile.result(await fib.memoUri(n))))).toBe(true);
  const memospace = path.dirname(fileURLToPath(await fib.memoUri(6)));
  expect(readdirSync(memospace)).toHaveLength(7);
  expect(await fib(6)).toBe(8); // and now a hit
}, 180_000);

test('concurrency 1, and the caller and a child both need the same call: no deadlock (the slot is taken before the lease)', async () => {
  // The caller runs outer(1) (its child calls inner(1)) and inner(1) itself. Were inner(1)'s
  // lease taken while it queued for the only slot, outer's child would wait for that lease while
  // outer held the slot: a deadlock.
  const s = setup(1);
  const [o, i] = await Promise.all([outer(1), inner(1)]);
  expect(o).toBe(11);
  expect(i).toBe(10);
  const names = s.executions().map(([name]) => name);
  expect(names.filter((n) => n === 'inner')).toHaveLength(1);
  expect(names.filter((n) => n === 'outer')).toHaveLength(1);
}, 180_000);
