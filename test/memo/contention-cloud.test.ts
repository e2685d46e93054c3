import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { finished, spawnTs } from '../support/child.js';
import {
  TEST_BUCKET,
  TEST_CONTAINER,
  azureChildEnv,
  azureServer,
  s3ChildEnv,
  s3Server,
  skipRequested,
} from '../support/servers.js';
import { useTempDir } from '../support/temp-dir.js';

const tempDir = useTempDir();
// 8 × 16 calls at once: enough contention to prove exactly-once, few enough that a single-threaded
// emulator on a 2-core machine answers the ~100 polling waiters in reasonable time.
const CALLS = 16;

/**
 * The exactly-once contention test of contention.test.ts, with the lease and results on a cloud
 * store. The lease TTL is the default 90 s: with 400 calls at once a loaded emulator can take
 * longer than a short TTL to answer, and an expired lease is (rightly) taken over.
 */
async function contend(root: string, env: Record<string, string>): Promise<void> {
  const { dir } = tempDir();
  const log = path.join(dir, 'executions.log');
  writeFileSync(log, '');
  const children = Array.from({ length: 8 }, () =>
    finished(spawnTs('test/fixtures/contention-worker.ts', [root, log, String(CALLS), '90000'], { env })),
  );
  const outcomes = await Promise.all(children);
  for (const o of outcomes) expect(o.code, o.stderr).toBe(0);
  const executions = readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((line) => Number(line.split(' ')[0]));
  expect(executions.sort((a, b) => a - b)).toEqual(Array.from({ length: CALLS }, (_, i) => i));
  const views = outcomes.map((o) => o.stdout.trim());
  for (const view of views) expect(view).toBe(views[0]);
}

describe.skipIf(skipRequested('s3'))('on S3 (Ceph RGW)', () => {
  test('8 processes calling the same 16 invocations at once compute each exactly once', async () => {
    const s3 = await s3Server();
    await contend(`s3://${TEST_BUCKET}/contention-${randomBytes(4).toString('hex')}`, s3ChildEnv(s3));
  }, 240_000);
});

describe.skipIf(skipRequested('azure'))('on Azure Blob (azurite)', () => {
  test('8 processes calling the same 16 invocations at once compute each exactly once', async () => {
    const azure = await azureServer();
    await contend(
      `adls://${azure.account}/${TEST_CONTAINER}/contention-${randomBytes(4).toString('hex')}`,
      azureChildEnv(azure),
    );
  }, 240_000);
});
