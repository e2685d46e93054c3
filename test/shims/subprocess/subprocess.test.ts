// The subprocess shim: real child processes, from TypeScript (tsx) and from compiled JavaScript.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { lookupBlobStore, RemoteError, SubprocessError } from '../../../src/index.js';
import { decodeInvocation } from '../../../src/protocol/invocation-record.js';
import { readLease } from '../../../src/execute/lease.js';
import { memoFile } from '../../../src/protocol/memo-uri.js';
import { shimByName } from '../../../src/shims/shim-registry.js';
import { unloadable } from '../../fixtures/subprocess-broken-module.js';
import { add, failing, slow, timed } from '../../fixtures/subprocess-functions.js';
import { finished, projectRoot, runCommand, spawnTs } from '../../support/child.js';
import { useTempDir } from '../../support/temp-dir.js';
import { until } from '../../support/until.js';

const tempDir = useTempDir();

/** A fresh blob root and execution log, seen by this process and (through the env) its children. */
function setup() {
  const { dir, uri } = tempDir();
  const log = path.join(dir, 'executions.log');
  writeFileSync(log, '');
  process.env.MEMOCALL_TEST_ROOT = uri;
  process.env.MEMOCALL_TEST_LOG = log;
  const env = { MEMOCALL_TEST_ROOT: uri, MEMOCALL_TEST_LOG: log };
  return { dir, uri, log, env, executions: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

const filesUnder = (dir: string) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();

const gone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
};

test('a TypeScript function runs in a child process (through tsx) and its result is stored and returned', async () => {
  const s = setup();
  const value = await add(1, 2);
  expect(value.sum).toBe(3);
  expect(value.pid).not.toBe(process.pid);
  expect(await add(1, 2)).toEqual(value); // a hit: no second child
  expect(s.executions()).toEqual([`add [1,2] ${value.pid}`]);

  const memoUri = await add.memoUri(1, 2);
  const files = filesUnder(fileURLToPath(memoUri));
  expect(files.filter((f) => !f.startsWith('meta'))).toEqual(['invocation', 'lease', 'result']);
  expect(files.filter((f) => f.startsWith('meta'))).toHaveLength(1);
  const invocation = decodeInvocation(await lookupBlobStore(memoUri).get(memoFile.invocation(memoUri)));
  expect(invocation.runtimeModule).toBe('test/fixtures/subprocess-functions.ts');
  const lease = await readLease(lookupBlobStore(memoUri), memoFile.lease(memoUri));
  expect(lease?.record.writerId).toBe(invocation.writerId);
}, 120_000);

test('an error thrown in the child is re-thrown here as a RemoteError: name, message, remote stack, cause, properties', async () => {
  setup();
  const error = await failing('disk').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RemoteError);
  const remote = error as RemoteError;
  expect(remote.name).toBe('QuotaError');
  expect(remote.message).toBe('quota exceeded for disk');
  expect(remote.remoteStack).toMatch(/^QuotaError: quota exceeded for disk\n\s+at .*subprocess-functions\.ts:\d+/);
  expect(remote.props).toEqual({ quota: 42 });
  expect(remote.cause).toBeInstanceOf(RemoteError);
  expect(remote.cause).toMatchObject({ name: 'TypeError', message: 'inner cause' });
  expect(existsSync(fileURLToPath(memoFile.error(await failing.memoUri('disk'))))).toBe(true);
}, 120_000);

test("the children's output reaches the caller's stdout and stderr line by line, prefixed with the function and arguments key", async () => {
  const s = setup();
  const caller = await finished(spawnTs('test/fixtures/subprocess-caller.ts', ['noisy', '[3]'], { env: s.env }));
  expect(caller.code, caller.stderr).toBe(0);
  const prefix = /^\[noisy [A-Z][a-z]+[A-Z][a-z]+\] /;
  const out = caller.stdout.split('\n').filter((l) => prefix.test(l));
  const err = caller.stderr.split('\n').filter((l) => prefix.test(l));
  expect(out.map((l) => l.replace(prefix, ''))).toEqual(['out one', 'out two 3']);
  expect(err.map((l) => l.replace(prefix, ''))).toEqual(['err one', 'err tail']); // the last, unterminated line too
  expect(caller.stdout).toContain('result 3');
}, 120_000);

test("a child inherits the caller's environment, the shim's `env` on top, and finds the module from any working directory", async () => {
  const s = setup();
  const cwd = tmpdir();
  const caller = await finished(
    spawnTs(
      'test/fixtures/subprocess-caller.ts',
      ['environment', JSON.stringify([['MEMOCALL_TEST_ROOT', 'MEMOCALL_TEST_FROM_SHIM', 'MEMOCALL_CODE_ROOT']])],
      { env: s.env, cwd },
    ),
  );
  expect(caller.code, caller.stderr).toBe(0);
  const result = JSON.parse(
    caller.stdout
      .split('\n')
      .find((l) => l.startsWith('result '))!
      .slice('result '.length),
  ) as { values: Record<string, string>; cwd: string };
  expect(result.values).toEqual({
    MEMOCALL_TEST_ROOT: s.uri,
    MEMOCALL_TEST_FROM_SHIM: 'yes',
    MEMOCALL_CODE_ROOT: projectRoot,
  });
  expect(result.cwd).toBe(cwd);
}, 120_000);

test('memocall failing in the child (its module does not load there) rejects with a SubprocessError carrying its stderr; nothing is stored, the lease is released', async () => {
  setup();
  const error = await unloadable(1).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(SubprocessError);
  expect(error).toMatchObject({ code: 'MEMOCALL_SUBPROCESS_FAILED', exitCode: 1 });
  expect((error as SubprocessError).stderrTail).toContain('this module cannot be loaded in a child');
  expect((error as SubprocessError).message).toContain('memocall failed in the child (exit 1)');
  const memoUri = await unloadable.memoUri(1);
  expect(existsSync(fileURLToPath(memoFile.error(memoUri)))).toBe(false);
  expect(existsSync(fileURLToPath(memoFile.result(memoUri)))).toBe(false);
  expect((await readLease(lookupBlobStore(memoUri), memoFile.lease(memoUri)))?.record.releasedAt).toBeDefined();
}, 120_000);

test('at most `concurrency` children run at once across the calls of one shim', async () => {
  setup(); // the fixture's shim has concurrency 2
  const runs = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((tag) => timed(700, tag)));
  expect(new Set(runs.map((r) => r.pid)).size).toBe(5);
  const events = runs.flatMap((r) => [
    { t: r.start, d: 1 },
    { t: r.end, d: -1 },
  ]);
  events.sort((a, b) => a.t - b.t || a.d - b.d);
  let running = 0;
  let most = 0;
  for (const e of events) most = Math.max(most, (running += e.d));
  expect(most).toBeLessThanOrEqual(2);
}, 120_000);

test('children started ahead (prestart) still give every invocation a fresh process, and go away with their caller', async () => {
  const s = setup();
  const caller = await finished(
    spawnTs('test/fixtures/subprocess-caller.ts', ['add', '[10,1]', '[11,1]', '[12,1]', '[13,1]'], {
      env: { ...s.env, MEMOCALL_TEST_PRINT_CHILDREN: '1' },
    }),
  );
  expect(caller.code, caller.stderr).toBe(0);
  const results = caller.stdout
    .split('\n')
    .filter((l) => l.startsWith('result '))
    .map((l) => JSON.parse(l.slice('result '.length)) as { sum: number; pid: number });
  expect(results.map((r) => r.sum)).toEqual([11, 12, 13, 14]);
  expect(new Set(results.map((r) => r.pid)).size).toBe(4);
  const children = (caller.stdout.split('\n').find((l) => l.startsWith('children')) ?? 'children')
    .split(' ')
    .slice(1)
    .map(Number);
  expect(children.length).toBe(1); // one spare was waiting (prestart 1)
  await until(() => children.every(gone), 15_000, 'the spare children to end');
}, 120_000);

test('a caller killed with SIGKILL mid-run: its child finishes and writes the result, and the next caller takes it instead of computing again', async () => {
  const s = setup();
  const first = spawnTs('test/fixtures/subprocess-caller.ts', ['slow', '[2500, "k"]'], { env: s.env });
  const firstDone = finished(first);
  await until(() => s.executions().length > 0, 60_000, 'the child to start');
  const childPid = Number(s.executions()[0]!.split(' ')[2]);
  first.kill('SIGKILL');
  await firstDone;
  expect(gone(childPid)).toBe(false); // the orphan runs on, keeping the lease alive

  const second = await finished(spawnTs('test/fixtures/subprocess-caller.ts', ['slow', '[2500, "k"]'], { env: s.env }));
  expect(second.code, second.stderr).toBe(0);
  expect(second.stdout).toContain(`result "slept 2500 in ${childPid}"`);
  expect(s.executions()).toHaveLength(1); // computed once, by the first caller's child
  await until(() => gone(childPid), 10_000, 'the orphan to exit');
}, 120_000);

test('a caller stopped with SIGTERM stops its children and releases its lease before it dies', async () => {
  const s = setup();
  const caller = spawnTs('test/fixtures/subprocess-caller.ts', ['slow', '[120000, "t"]'], { env: s.env });
  const callerDone = finished(caller);
  await until(() => s.executions().length > 0, 60_000, 'the child to start');
  const childPid = Number(s.executions()[0]!.split(' ')[2]);
  caller.kill('SIGTERM');
  const ended = await callerDone;
  expect(ended.signal).toBe('SIGTERM');
  await until(() => gone(childPid), 10_000, 'the child to end');
  const memoUri = await slow.memoUri(120_000, 't');
  expect((await readLease(lookupBlobStore(memoUri), memoFile.lease(memoUri)))?.record.releasedAt).toBeDefined();
}, 120_000);

test('compiled JavaScript: a program built to dist/ runs its functions in children without tsx', async () => {
  const { uri } = tempDir();
  const run = await runCommand(process.execPath, [path.join(projectRoot, 'dist/examples/subprocess.js')], {
    env: { MEMOCALL_BLOB_ROOT: uri },
    cwd: tmpdir(),
  });
  expect(run.code, run.stderr).toBe(0);
  const lines = run.stdout.split('\n');
  expect(lines).toContain('squareRoot(2) = 1.4142135623730951');
  expect(lines.find((l) => l.startsWith('"the quick brown fox"'))).toMatch(
    /: 4 words, counted by pid \d+ \(this is \d+\), flags \[\]$/,
  );
  expect(lines.find((l) => l.startsWith('squareRoot(-4)'))).toMatch(
    /^squareRoot\(-4\) threw RangeError: no real square root of -4 \(remote stack starts: at .*dist\/examples\/subprocess\.js:\d+/,
  );
  expect(lines.filter((l) => /^\[wordCount [A-Za-z]+\] counting \d+ characters$/.test(l))).toHaveLength(4);
  const memoUri = lines.find((l) => l.startsWith('stored under '))!.slice('stored under '.length);
  const invocation = decodeInvocation(await lookupBlobStore(memoUri).get(memoFile.invocation(memoUri)));
  expect(invocation.runtimeModule).toBe('dist/examples/subprocess.js');
  expect(invocation.moduleId).toBe('examples/subprocess');
}, 120_000);

test('the shim is registered by name for pure() and MEMOCALL_SHIM=subprocess', () => {
  const shim = shimByName('subprocess');
  expect(typeof shim).toBe('function');
  expect(shim.slots).toBeDefined();
});
