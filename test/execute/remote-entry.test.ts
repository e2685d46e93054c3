// The remote entry, `memocall run <memo-uri> [--writer-id=ID]`, run as a real child process the
// way shims run it, against invocations written by a real runner (whose shim parks them).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { lookupBlobStore, MemoizingRunner, RemoteError, RUN_EXIT } from '../../src/index.js';
import { decodeErrorRecord } from '../../src/protocol/error-record.js';
import { decodeInvocation, encodeInvocation } from '../../src/protocol/invocation-record.js';
import { readLease } from '../../src/execute/lease.js';
import { memoFile } from '../../src/protocol/memo-uri.js';
import { decodeResultRecord } from '../../src/protocol/result-record.js';
import { double, explode, quadruple, racy, useTestRunner } from '../fixtures/remote-functions.js';
import { finished, projectRoot, spawnTs } from '../support/child.js';
import { parkingShim } from '../support/parking-shim.js';
import { useTempDir } from '../support/temp-dir.js';
import { readFileStoreObjectText } from '../support/file-store-object.js';

const tempDir = useTempDir();

interface Setup {
  root: string;
  log: string;
  parking: ReturnType<typeof parkingShim>;
  /** `memocall run ...` in a child process; resolves with its exit code and output. */
  remote(
    args: string[],
    opts?: { cwd?: string; entry?: string; codeRootFromInvocation?: boolean; env?: Record<string, string> },
  ): ReturnType<typeof finished>;
  executions(): string[];
}

function setup(): Setup {
  const { dir, uri } = tempDir();
  const log = path.join(dir, 'executions.log');
  writeFileSync(log, '');
  const parking = parkingShim();
  useTestRunner(new MemoizingRunner({ blobRoot: uri, shim: parking.shim, waitInitialMs: 50, waitMaxMs: 200 }));
  return {
    root: uri,
    log,
    parking,
    remote: (args, opts = {}) =>
      finished(
        spawnTs(opts.entry ?? 'src/shims/subprocess/child-main.ts', args, {
          cwd: opts.cwd ?? projectRoot,
          env: {
            MEMOCALL_TEST_ROOT: uri,
            MEMOCALL_TEST_LOG: log,
            ...(opts.codeRootFromInvocation ? {} : { MEMOCALL_CODE_ROOT: projectRoot }),
            ...opts.env,
          },
        }),
      ),
    executions: () => readFileSync(log, 'utf8').split('\n').filter(Boolean),
  };
}

afterEach(() => useTestRunner(new MemoizingRunner({ blobRoot: 'memory://unused' })));

const store = (uri: string) => lookupBlobStore(uri);
const metaRecords = (memoUri: string) => {
  const dir = path.join(fileURLToPath(memoUri), 'meta');
  return existsSync(dir)
    ? readdirSync(dir).map(
        (f) =>
          JSON.parse(readFileStoreObjectText(path.join(dir, f))) as { outcome: string; detail?: string; pid: number },
      )
    : [];
};

describe('exit codes', () => {
  test('0: the function ran in the remote, `result` is written, and the waiting caller gets it', async () => {
    const s = setup();
    const call = double(21);
    const parked = await s.parking.next();
    const run = await s.remote(parked.argv);
    expect(run.code, run.stderr).toBe(RUN_EXIT.ok);
    expect(run.stderr).toBe(''); // started by a shim: nothing to say when all went well
    parked.finish();
    const value = await call;
    expect(value.doubled).toBe(42);
    expect(value.pid).not.toBe(process.pid);
    const record = decodeResultRecord(await store(s.root).get(memoFile.result(parked.memoUri)));
    expect(record.writerId).toBe(parked.writerId);
    expect(metaRecords(parked.memoUri).map((m) => m.outcome)).toEqual(['result']);
    // The remote kept the lease alive but never released it: that is the caller's job.
    expect((await readLease(store(s.root), memoFile.lease(parked.memoUri)))?.record.writerId).toBe(parked.writerId);
  }, 60_000);

  test('46: the function threw; `error` is written and re-thrown to the caller as a RemoteError', async () => {
    const s = setup();
    const call = explode('cheese');
    const caught = call.catch((e: unknown) => e);
    const parked = await s.parking.next();
    const run = await s.remote(parked.argv);
    expect(run.code, run.stderr).toBe(RUN_EXIT.userError);
    parked.finish();
    const error = await caught;
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({ name: 'RangeError', message: 'no cheese here', cause: 'a plain cause' });
    expect((error as RemoteError).remoteStack).toContain('remote-functions.ts');
    const record = decodeErrorRecord(await store(s.root).get(memoFile.error(parked.memoUri)));
    expect(record.writerId).toBe(parked.writerId);
    expect(metaRecords(parked.memoUri).map((m) => m.outcome)).toEqual(['error']);
  }, 60_000);

  test('47: a writer id that does not hold the lease runs nothing and says why in meta', async () => {
    const s = setup();
    const call = double(5);
    const parked = await s.parking.next();
    const run = await s.remote(['run', parked.memoUri, '--writer-id=someone-else']);
    expect(run.code, run.stderr).toBe(RUN_EXIT.leaseLost);
    expect(run.stderr).toContain(`held by writer ${parked.writerId}`);
    expect(s.executions()).toEqual([]);
    expect(existsSync(fileURLToPath(memoFile.result(parked.memoUri)))).toBe(false);
    const [meta] = metaRecords(parked.memoUri);
    expect(meta).toMatchObject({ outcome: 'lease-lost' });
    expect(meta!.detail).toContain(parked.writerId);
    // The real holder then runs it normally.
    expect((await s.remote(parked.argv)).code).toBe(RUN_EXIT.ok);
    parked.finish();
    expect((await call).doubled).toBe(10);
  }, 60_000);

  test("1: a module that cannot be found is memocall's failure: no `error`, nothing for the caller to re-throw", async () => {
    const s = setup();
    const call = double(6);
    const parked = await s.parking.next();
    const uri = memoFile.invocation(parked.memoUri);
    const invocation = decodeInvocation(await store(s.root).get(uri));
    await store(s.root).put(
      uri,
      encodeInvocation({
        ...invocation,
        moduleId: 'test/fixtures/no-such-module',
        runtimeModule: 'test/fixtures/no-such-module.ts',
      }),
    );
    const run = await s.remote(parked.argv);
    expect(run.code).toBe(RUN_EXIT.internal);
    expect(run.stderr).toContain('cannot find the module of test/fixtures/remote-functions--double');
    expect(s.executions()).toEqual([]);
    expect(existsSync(fileURLToPath(memoFile.error(parked.memoUri)))).toBe(false);
    expect(metaRecords(parked.memoUri)).toMatchObject([{ outcome: 'internal-error' }]);
    parked.finish();
    await expect(call).rejects.toMatchObject({ name: 'NoResultError' });
  }, 60_000);

  test("1: an invocation file that is not one, or is missing, is memocall's failure too", async () => {
    const s = setup();
    const call = double(7);
    const parked = await s.parking.next();
    writeFileSync(fileURLToPath(memoFile.invocation(parked.memoUri)), 'not cbor at all');
    const garbled = await s.remote(parked.argv);
    expect(garbled.code).toBe(RUN_EXIT.internal);
    expect(garbled.stderr).toContain('BadInvocationError');
    await store(s.root).delete(memoFile.invocation(parked.memoUri));
    const missing = await s.remote(parked.argv);
    expect(missing.code).toBe(RUN_EXIT.internal);
    expect(missing.stderr).toMatch(/BlobNotFound|not found/i);
    expect(s.executions()).toEqual([]);
    expect(existsSync(fileURLToPath(memoFile.error(parked.memoUri)))).toBe(false);
    parked.finish();
    await expect(call).rejects.toMatchObject({ name: 'NoResultError' });
  }, 60_000);

  test('a usage error exits 2', async () => {
    const s = setup();
    expect((await s.remote(['run'])).code).toBe(2);
    expect((await s.remote(['walk', 'file:///x'])).code).toBe(2);
  }, 60_000);
});

describe('by hand (no --writer-id)', () => {
  test('a lease TTL from the environment is read strictly: MEMOCALL_LEASE_TTL_MS=abc is refused, naming the variable', async () => {
    const s = setup();
    const call = double(10);
    const parked = await s.parking.next();
    parked.finish();
    await expect(call).rejects.toMatchObject({ name: 'NoResultError' });
    const run = await s.remote(['run', parked.memoUri], { env: { MEMOCALL_LEASE_TTL_MS: 'abc' } });
    expect(run.code).toBe(RUN_EXIT.internal);
    expect(run.stderr).toContain('MEMOCALL_LEASE_TTL_MS must be a positive number of milliseconds, got "abc"');
    expect(s.executions()).toEqual([]);
  }, 60_000);

  test('with a result already stored it says so and runs nothing (exit 0)', async () => {
    const s = setup();
    const call = double(8);
    const parked = await s.parking.next();
    expect((await s.remote(parked.argv)).code).toBe(RUN_EXIT.ok);
    parked.finish();
    await call;
    const again = await s.remote(['run', parked.memoUri]);
    expect(again.code).toBe(RUN_EXIT.ok);
    expect(again.stderr).toContain('already-done');
    expect(s.executions()).toHaveLength(1);
  }, 60_000);

  test('without a result it takes a lease of its own, runs, writes, and releases; while a caller holds the lease it runs nothing (exit 47)', async () => {
    const s = setup();
    const call = double(9);
    const parked = await s.parking.next();
    const blocked = await s.remote(['run', parked.memoUri]);
    expect(blocked.code).toBe(RUN_EXIT.leaseLost);
    expect(blocked.stderr).toContain(`held by writer ${parked.writerId}`);
    expect(s.executions()).toEqual([]);

    // The caller gives up without running it (its shim "finished" with nothing written).
    parked.finish();
    await expect(call).rejects.toMatchObject({ name: 'NoResultError' });
    expect((await readLease(store(s.root), memoFile.lease(parked.memoUri)))?.record.releasedAt).toBeDefined();

    // A person re-runs it to see what happens, from another directory: it finds the module
    // through the code root the caller recorded, and runs under a lease of its own.
    const byHand = await s.remote(['run', parked.memoUri], { cwd: tmpdir(), codeRootFromInvocation: true });
    expect(byHand.code, byHand.stderr).toBe(RUN_EXIT.ok);
    expect(byHand.stderr).toContain('memocall run: ok: result written');
    const record = decodeResultRecord(await store(s.root).get(memoFile.result(parked.memoUri)));
    const lease = (await readLease(store(s.root), memoFile.lease(parked.memoUri)))!.record;
    expect(record.writerId).toBe(lease.writerId);
    expect(lease.writerId).not.toBe(parked.writerId);
    expect(lease.generation).toBe(2);
    expect(lease.releasedAt).toBeDefined();
    expect(s.executions()).toHaveLength(1);
    expect((await double(9)).doubled).toBe(18); // now a plain hit
  }, 60_000);
});

test('nested memoized calls inside a remote go through the runner again: each gets its own memo entry', async () => {
  const s = setup();
  const call = quadruple(3);
  const parked = await s.parking.next();
  const run = await s.remote(parked.argv);
  expect(run.code, run.stderr).toBe(RUN_EXIT.ok);
  parked.finish();
  expect(await call).toBe(12);
  expect(s.executions().map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual([
    'quadruple 3',
    'double 3',
    'double 6',
  ]);
  for (const x of [3, 6]) expect(existsSync(fileURLToPath(memoFile.result(await double.memoUri(x))))).toBe(true);
}, 60_000);

test('a run whose result another run wrote first leaves a lost-race record; the first result stands', async () => {
  const s = setup();
  const call = racy(1);
  const parked = await s.parking.next();
  const run = await s.remote(parked.argv);
  expect(run.code, run.stderr).toBe(RUN_EXIT.ok);
  expect(run.stderr).toContain('lost-race');
  parked.finish();
  expect(await call).toBe("the racer's 1");
  const lostRaces = readdirSync(path.join(fileURLToPath(parked.memoUri), 'lost-race'));
  expect(lostRaces).toHaveLength(1);
  expect(metaRecords(parked.memoUri).map((m) => m.outcome)).toEqual(['lost-race']);
}, 60_000);

test('`memocall run` of the full CLI is the same entry', async () => {
  const s = setup();
  const call = double(11);
  const parked = await s.parking.next();
  const run = await s.remote(parked.argv, { entry: 'src/cli/main.ts' });
  expect(run.code, run.stderr).toBe(RUN_EXIT.ok);
  parked.finish();
  expect((await call).doubled).toBe(22);
}, 60_000);
