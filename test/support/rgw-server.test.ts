/**
 * The test setup's own S3 server: the Ceph RGW that servers.global-setup.ts started for this run
 * answers, and a start that cannot succeed says which step failed and why.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// Imported by this path (not './servers.js') so that the global setup sees that this file needs
// the cloud servers (it looks for "support/servers" in the selected test files).
import { describeScriptFailure, PROJECT_ROOT, s3Server, skipRequested, TEST_BUCKET } from '../support/servers.js';

describe.skipIf(skipRequested('s3'))('Ceph RGW test server', () => {
  it('serves S3 with the test bucket in place', async () => {
    const s3 = await s3Server();
    const { S3Client, PutObjectCommand, GetObjectCommand } = await import('@aws-sdk/client-s3');
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    try {
      const key = `rgw-server-test/${process.pid}-${Date.now()}`;
      await client.send(new PutObjectCommand({ Bucket: TEST_BUCKET, Key: key, Body: 'hello rgw' }));
      const got = await client.send(new GetObjectCommand({ Bucket: TEST_BUCKET, Key: key }));
      expect(await got.Body?.transformToString()).toBe('hello rgw');
    } finally {
      client.destroy();
    }
  });

  it('names the failed step and its cause when Ceph cannot start (mon port taken)', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolveListen) => blocker.listen(0, '127.0.0.1', resolveListen));
    const address = blocker.address();
    const monPort = typeof address === 'object' && address ? address.port : 0;
    const dir = await mkdtemp(join(tmpdir(), 'memocall-rgw-fail-'));
    try {
      const error = await new Promise<unknown>((resolveRun) => {
        execFile(
          'bash',
          [join(PROJECT_ROOT, 'scripts', 'ceph-rgw-up.sh'), dir],
          { env: { ...process.env, MON_PORT: String(monPort), RGW_PORT: '1' }, timeout: 120_000 },
          (err, _stdout, stderr) => resolveRun(err ? Object.assign(err, { stderr }) : undefined),
        );
      });
      expect(error).toBeDefined();
      // Exit code 5: the caller may retry on other ports; no other failure is retried.
      expect((error as { code?: unknown }).code).toBe(5);
      const headline = describeScriptFailure(error, 'start').split('\n')[0];
      expect(headline).toMatch(new RegExp(`^ceph-mon start \\(port ${monPort}\\): .*already in use`));
    } finally {
      blocker.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('reports the last step reached when the start is killed', () => {
    const killed = Object.assign(new Error('Command failed'), {
      killed: true,
      signal: 'SIGTERM',
      stderr: 'RGW_STEP 0s monmap\nRGW_STEP 3s ceph osd create\n',
    });
    expect(describeScriptFailure(killed, 'start')).toBe('ceph osd create: killed (SIGTERM) before it finished');
  });
});
