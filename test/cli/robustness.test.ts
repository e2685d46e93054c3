import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, test } from 'vitest';
import { lookupBlobStore, MemoizingRunner, queue, useRunner } from '../../src/index.js';
import { DownloadCache } from '../../src/cache/download-cache.js';
import { CacheIntegrityError } from '../../src/cache/errors.js';
import { memoFile } from '../../src/protocol/memo-uri.js';
import { projectRoot, runCommand } from '../support/child.js';
import { useTempDir } from '../support/temp-dir.js';

const tempDir = useTempDir();
const main = path.join(projectRoot, 'dist/src/cli/main.js');
const cli = (...args: string[]) => runCommand(process.execPath, [main, ...args]);
const encode = (text: string) => new TextEncoder().encode(text);

async function storeWithTwoFunctions(uri: string) {
  const runner = new MemoizingRunner({ blobRoot: uri, pipelineId: 'robust' });
  const a = useRunner(runner, async (x: number) => x + 1, { id: 'robust/a' });
  const b = useRunner(runner, async (x: number) => x * 2, { id: 'robust/b', logicKey: 'v2' });
  await a(1);
  await a(2);
  await b(3);
  // The same function id in another pipeline, and another logic key: rows of their own.
  const other = new MemoizingRunner({ blobRoot: uri, pipelineId: 'other' });
  const aElsewhere = useRunner(other, async (x: number) => x + 1, { id: 'robust/a' });
  const bBefore = useRunner(runner, async (x: number) => x * 2, { id: 'robust/b' });
  await aElsewhere(1);
  await bBefore(3);
  return {
    a: await a.memoUri(1),
    a2: await a.memoUri(2),
    b: await b.memoUri(3),
    aElsewhere: await aElsewhere.memoUri(1),
    bBefore: await bBefore.memoUri(3),
  };
}

test('one bad run record is reported and skipped: summarize and inspect still show the rest', async () => {
  const { uri } = tempDir();
  const memo = await storeWithTwoFunctions(uri);
  const store = lookupBlobStore(uri);
  const torn = memoFile.meta(memo.a, 'torn');
  const numeric = memoFile.meta(memo.a2, 'numeric-id');
  await store.put(torn, encode('{"runId": "torn", "functi'));
  await store.put(
    numeric,
    encode(JSON.stringify({ runId: 'x', functionId: 42, pipelineId: 'robust', outcome: 'result', durationMs: 1 })),
  );

  const summary = await cli('summarize', uri);
  expect(summary.code).toBe(1);
  expect(summary.stdout).toMatch(/\nother\s+robust\/a\s+-\s+1\s+0\s/);
  expect(summary.stdout).toMatch(/\nrobust\s+robust\/a\s+-\s+2\s+0\s/);
  expect(summary.stdout).toMatch(/\nrobust\s+robust\/b\s+-\s+1\s+0\s/);
  expect(summary.stdout).toMatch(/\nrobust\s+robust\/b\s+v2\s+1\s+0\s/);
  expect(summary.stderr).toContain(`memocall summarize: skipped ${torn}: cannot be decoded`);
  expect(summary.stderr).toContain(
    `memocall summarize: skipped ${numeric}: cannot be decoded (functionId is not a string)`,
  );
  expect(summary.stderr).not.toMatch(/\n\s+at /);
  const json = JSON.parse((await cli('summarize', uri, '--json')).stdout) as {
    pipelineId: string;
    functionId: string;
    logicKey: string | null;
    runs: number;
  }[];
  expect(json.map((r) => [r.pipelineId, r.functionId, r.logicKey, r.runs])).toEqual([
    ['other', 'robust/a', null, 1],
    ['robust', 'robust/a', null, 2],
    ['robust', 'robust/b', null, 1],
    ['robust', 'robust/b', 'v2', 1],
  ]);

  const inspected = await cli('inspect', memo.a, '--json');
  expect(inspected.code).toBe(1);
  const shown = JSON.parse(inspected.stdout) as { runs: unknown[]; problems: string[]; result: { value: number } };
  expect(shown.result.value).toBe(2);
  expect(shown.runs).toHaveLength(1);
  expect(shown.problems).toEqual([expect.stringContaining(torn)]);
  expect(inspected.stderr).toContain(`memocall inspect: skipped ${torn}`);
});

test('a bad lease record does not stop ls or inspect', async () => {
  const { uri } = tempDir();
  const memo = await storeWithTwoFunctions(uri);
  const store = lookupBlobStore(uri);
  await store.delete(memoFile.result(memo.b));
  await store.put(memoFile.lease(memo.b), encode('{"heartbeatAt": "soon"}'));
  // A call in progress: its lease is held, no outcome yet.
  await store.delete(memoFile.result(memo.bBefore));
  const now = Date.now();
  await store.delete(memoFile.lease(memo.bBefore));
  await store.put(
    memoFile.lease(memo.bBefore),
    encode(
      JSON.stringify({
        writerId: 'w',
        generation: 2,
        heartbeatAt: now,
        ttlMs: 600_000,
        acquiredAt: now,
        hostname: 'h',
        pid: 1,
      }),
    ),
  );
  const listed = await cli('ls', uri);
  const lines = listed.stdout.trim().split('\n');
  expect(lines).toHaveLength(5);
  expect(lines.find((l) => l.endsWith(memo.b))).toMatch(/^invocation only\s+robust\/b@v2\s/);
  expect(lines.find((l) => l.endsWith(memo.bBefore))).toMatch(/^running\s+robust\/b\s/);
  expect(listed.stderr).toContain(`skipped ${memoFile.lease(memo.b)}: cannot be decoded`);
  const inspected = await cli('inspect', memo.b);
  expect(inspected.stdout).toContain('lease: null');
  expect(inspected.stdout).toContain("functionId: 'robust/b'");
});

test.skipIf(process.getuid?.() !== 0)(
  'ls reports a directory it may not read and lists the rest (run as nobody)',
  async () => {
    const { dir } = tempDir();
    chmodSync(dir, 0o755);
    const storeDir = path.join(dir, 'store');
    const memo = await storeWithTwoFunctions(pathToFileURL(storeDir).href);
    // Lists before the store ("a" < "store"), and nobody may not read it.
    const locked = path.join(dir, 'a-locked');
    mkdirSync(path.join(locked, 'inside'), { recursive: true });
    chmodSync(locked, 0o700);
    const asNobody = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      import('node:child_process').then(({ execFile }) =>
        execFile(
          process.execPath,
          [main, 'ls', pathToFileURL(dir).href],
          { uid: 65534, gid: 65534, cwd: '/' },
          (error, stdout, stderr) => {
            if (error && typeof error.code !== 'number') reject(error);
            else resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
          },
        ),
      );
    });
    expect(asNobody.stderr).toContain(`memocall ls: skipped ${locked}: EACCES`);
    for (const uri of Object.values(memo)) expect(asNobody.stdout).toContain(uri);
    expect(asNobody.code).toBe(1);
  },
);

test('credentials in URIs are never echoed: a malformed Redis URL, an s3:// root with a key and secret', async () => {
  for (const url of [
    'redis://:hunter2-pass@127.0.0.1:1/0/a/b',
    'redis://user:hunter2/pass@host',
    'http://:hunter2@h/q',
  ]) {
    const r = await cli('worker', '--queue', url);
    expect(r.code, url).toBe(2);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).not.toContain('hunter2');
  }
  for (const args of [
    ['ls', 's3://AKIAEXAMPLE:wJalrSECRET@bucket/memo'],
    ['summarize', 's3://AKIAEXAMPLE:wJalrSECRET@bucket/'],
    ['inspect', 'S3://AKIAEXAMPLE:wJalrSECRET@bucket/memo/x'],
    ['run', 's3:/AKIAEXAMPLE:wJalrSECRET@bucket/memo/x'],
  ]) {
    const r = await cli(...args);
    expect(r.code, args.join(' ')).toBe(2);
    expect(r.stderr).toContain('***@bucket');
    expect(r.stderr).not.toMatch(/AKIAEXAMPLE|wJalrSECRET/);
  }
});

test("an integrity error on a local file names the file, never its content's hash", async () => {
  const { dir } = tempDir();
  const secret = path.join(dir, 'shadow');
  writeFileSync(secret, 'root:$6$secret-hash:19000:0:99999:7:::\n');
  const actual = createHash('sha256').update('root:$6$secret-hash:19000:0:99999:7:::\n').digest('hex');
  const cache = new DownloadCache({ dir: path.join(dir, 'cache') });
  const error = await cache.fetch(pathToFileURL(secret).href, { sha256: '0'.repeat(64) }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(CacheIntegrityError);
  expect((error as Error).message).toContain(pathToFileURL(secret).href);
  expect((error as Error).message).toContain('0'.repeat(64));
  expect(JSON.stringify({ ...(error as object), message: (error as Error).message })).not.toContain(actual);
});

test('queue() given a malformed Redis URL does not echo its password either (library, not only the CLI)', () => {
  for (const connection of [
    'redis://:hunter2-pass@127.0.0.1:1/0/a/b',
    'redis://user:hunter2/pass@host',
    'http://:hunter2@h/q',
  ]) {
    let message = '';
    try {
      queue({ connection });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message, connection).toMatch(/Redis URL|expected redis:/);
    expect(message).not.toContain('hunter2');
  }
});
