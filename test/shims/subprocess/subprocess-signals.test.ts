// Ctrl-C and SIGTERM on a program fanning calls out through the subprocess shim: the program dies
// of the signal (no exit 1, no stack), its children stop, queued calls never start, and its leases
// are released.
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { lookupBlobStore } from '../../../src/index.js';
import { readLease } from '../../../src/execute/lease.js';
import { memoFile } from '../../../src/protocol/memo-uri.js';
import { finished, projectRoot, spawnTs } from '../../support/child.js';
import { useTempDir } from '../../support/temp-dir.js';
import { until } from '../../support/until.js';
import { spawn } from 'node:child_process';
import { slowWork, TAGS } from './fixtures/signal-fanout.js';

const tempDir = useTempDir();
const PROGRAM = 'test/shims/subprocess/fixtures/signal-fanout.ts';

const gone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
};

function setup() {
  const { dir, uri } = tempDir();
  const marks = path.join(dir, 'marks');
  mkdirSync(marks);
  process.env.MEMOCALL_TEST_ROOT = uri;
  return { env: { MEMOCALL_TEST_ROOT: uri, MEMOCALL_TEST_MARKS: marks }, started: () => readdirSync(marks) };
}

/** After the program ended: its children are gone, no other child ever started, every lease is released. */
async function expectEverythingStopped(started: () => string[]): Promise<void> {
  const children = started();
  expect(children).toHaveLength(2); // only the two running when the signal came
  const pids = children.map((name) => Number(name.split('-')[1]));
  await until(() => pids.every(gone), 15_000, 'the children to end');
  for (const tag of TAGS) {
    const memoUri = await slowWork.memoUri(tag);
    const lease = await readLease(lookupBlobStore(memoUri), memoFile.lease(memoUri));
    // A queued call started after the signal would hold a lease nobody released.
    if (lease) expect(lease.record.releasedAt, `lease of ${tag}`).toBeDefined();
  }
  expect(started()).toEqual(children);
}

test('Ctrl-C (SIGINT) on a program under tsx: it dies of SIGINT without a stack, its children stop, queued calls never start, leases are released', async () => {
  const s = setup();
  const program = spawnTs(PROGRAM, [], { env: s.env });
  const ended = finished(program);
  await until(() => s.started().length >= 2, 60_000, 'two children to run');
  program.kill('SIGINT');
  const result = await ended;
  expect(result.signal, result.stderr).toBe('SIGINT');
  expect(result.stderr).not.toMatch(/Error|\n\s+at /);
  await expectEverythingStopped(s.started);
}, 120_000);

test('SIGTERM on a program run with the tsx command: it exits 143 (128 + SIGTERM) without a stack, and everything stops', async () => {
  const s = setup();
  const tsxCli = path.join(projectRoot, 'node_modules/tsx/dist/cli.mjs');
  const program = spawn(process.execPath, [tsxCli, PROGRAM], {
    cwd: projectRoot,
    env: { ...process.env, ...s.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ended = finished(program);
  await until(() => s.started().length >= 2, 60_000, 'two children to run');
  program.kill('SIGTERM');
  const result = await ended;
  expect(result.code, result.stderr).toBe(143);
  expect(result.stderr).not.toMatch(/Error|\n\s+at /);
  await expectEverythingStopped(s.started);
}, 120_000);

test('a program that handles SIGINT itself lives on: its calls reject with CallAbortedError at once, and the queued ones never start a child', async () => {
  const s = setup();
  const program = spawnTs(PROGRAM, [], { env: { ...s.env, MEMOCALL_TEST_OWN_HANDLER: '1' } });
  const ended = finished(program);
  await until(() => s.started().length >= 2, 60_000, 'two children to run');
  // Were queued calls started after the signal, they would run (for minutes): stop the program then.
  const hang = setTimeout(() => program.kill('SIGKILL'), 60_000);
  program.kill('SIGINT');
  const result = await ended;
  clearTimeout(hang);
  expect(result.signal, 'queued calls ran after the signal').toBeNull();
  expect(result.code, result.stderr).toBe(0);
  expect(result.stdout).toContain('SIGINT handled by the program');
  expect(result.stdout).toContain(`settled ${TAGS.map(() => 'AbortError').join(' ')}`);
  await expectEverythingStopped(s.started);
}, 120_000);
