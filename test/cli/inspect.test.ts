import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import {
  KEY_FORMAT_VERSION,
  localSrc,
  lookupBlobStore,
  MemoizingRunner,
  type SrcFile,
  useRunner,
} from '../../src/index.js';
import { readLease } from '../../src/execute/lease.js';
import { memoFile } from '../../src/protocol/memo-uri.js';
import { runCommand } from '../support/child.js';
import { useTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';

const tempDir = useTempDir();
const cli = (...args: string[]) => runCommand(process.execPath, ['dist/src/cli/main.js', ...args]);

test('inspect, lease, ls and summarize show what is stored, readably', async () => {
  const { uri } = tempDir();
  const runner = new MemoizingRunner({ blobRoot: uri, pipelineId: 'cli' });
  const describePoint = useRunner(
    runner,
    async (p: { x: number; y: number }, tags: Set<string>) => `(${p.x}, ${p.y}) ${[...tags].join(',')}`,
    { id: 'cli/describe' },
  );
  const fail = useRunner(
    runner,
    async (n: number) => {
      throw new RangeError(`bad n ${n}`);
    },
    { id: 'cli/fail' },
  );
  await describePoint({ x: 1, y: 2 }, new Set(['a', 'b']));
  await expect(fail(7)).rejects.toThrow('bad n 7');
  const okUri = await describePoint.memoUri({ x: 1, y: 2 }, new Set(['a', 'b']));
  const failUri = await fail.memoUri(7);
  // The successful call releases its lease in the background.
  await until(
    async () => (await readLease(lookupBlobStore(okUri), memoFile.lease(okUri)))?.record.releasedAt !== undefined,
    10_000,
    'the lease to be released',
  );

  const inspected = await cli('inspect', okUri);
  expect(inspected.code, inspected.stderr).toBe(0);
  expect(inspected.stdout).toContain("functionId: 'cli/describe'");
  expect(inspected.stdout).toContain('{ x: 1, y: 2 }');
  expect(inspected.stdout).toContain("Set(2) { 'a', 'b' }");
  expect(inspected.stdout).toContain("value: '(1, 2) a,b'");
  expect(inspected.stdout).toMatch(/outcome: 'result'/);

  const failed = await cli('inspect', failUri);
  expect(failed.stdout).toContain("name: 'RangeError'");
  expect(failed.stdout).toContain("message: 'bad n 7'");

  // Lease times are ISO, as everywhere else.
  expect(inspected.stdout).toMatch(/releasedAt: '\d{4}-\d\d-\d\dT[\d:.]+Z'/);
  expect(inspected.stdout).toMatch(/state: 'released'/);

  const lease = await cli('lease', okUri);
  expect(lease.stdout).toMatch(/^writer [\w-]+ \(generation 1\) on .+ pid \d+: released at \d{4}-/);

  // ls: status, function, age, size, URI; --json one object per line.
  const listed = await cli('ls', `${uri}/${KEY_FORMAT_VERSION}/cli/`);
  const lines = listed.stdout.trim().split('\n');
  expect(lines.map((l) => l.split(/\s+/).at(-1)).sort()).toEqual([okUri, failUri].sort());
  expect(lines.find((l) => l.endsWith(okUri))).toMatch(/^result\s+cli\/describe\s+[\d.]+ (s|min)\s+\d+ B\s+/);
  expect(lines.find((l) => l.endsWith(failUri))).toMatch(/^error\s+cli\/fail\s+/);
  const listedJson = (await cli('ls', `${uri}/${KEY_FORMAT_VERSION}/cli/`, '--json')).stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(listedJson.find((l) => l.memoUri === okUri)).toMatchObject({
    status: 'result',
    functionId: 'cli/describe',
    pipelineId: 'cli',
    runs: 1,
    size: expect.any(Number),
    at: expect.stringMatching(/Z$/),
  });

  const summary = await cli('summarize', uri);
  expect(summary.stdout).toMatch(/^PIPELINE\s+FUNCTION\s+LOGIC KEY\s+RUNS\s+ERRORS/);
  expect(summary.stdout).toMatch(/\ncli\s+cli\/describe\s+-\s+1\s+0\s/);
  expect(summary.stdout).toMatch(/\ncli\s+cli\/fail\s+-\s+1\s+1\s/);

  const missing = await cli('inspect', `${uri}/${KEY_FORMAT_VERSION}/cli/none`);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toBe(`memocall inspect: nothing is stored at ${uri}/${KEY_FORMAT_VERSION}/cli/none\n`);
  const usage = await cli('frobnicate');
  expect(usage.code).toBe(2);
  expect(usage.stderr).toContain('unknown command');
});

test('inspect opens file values up: uri, sha256 and size, in text and in --json', async () => {
  const { dir, uri } = tempDir();
  const runner = new MemoizingRunner({ blobRoot: uri, pipelineId: 'cli' });
  const measure = useRunner(runner, async (file: SrcFile) => file.size, { id: 'cli/measure' });
  const local = path.join(dir, 'data.txt');
  writeFileSync(local, 'hello');
  const file = localSrc(local);
  expect(await measure(file)).toBe(5);
  const memoUri = await measure.memoUri(localSrc(local));
  const sha256 = createHash('sha256').update('hello').digest('hex');

  const text = await cli('inspect', memoUri);
  expect(text.code, text.stderr).toBe(0);
  expect(text.stdout).toMatch(new RegExp(`SrcFile \\{\\s+sha256: '${sha256}',\\s+size: 5\\s+\\}`));
  const json = JSON.parse((await cli('inspect', memoUri, '--json')).stdout) as {
    invocation: { args: unknown[] };
    lease: { acquiredAt: string };
  };
  expect(json.invocation.args).toEqual([{ $file: 'SrcFile', sha256, size: 5 }]);
  expect(json.lease.acquiredAt).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
});
