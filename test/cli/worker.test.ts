// `memocall worker` as a person meets it: Redis not there yet, then there; --verbose logs each job.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from 'vitest';
import { MemoizingRunner, queue } from '../../src/index.js';
import { finished, spawnTs, waitForLine } from '../support/child.js';
import { ensureRedisInstalled, freePort, redisSkipRequested } from '../support/redis-server.js';
import { useTempDir } from '../support/temp-dir.js';
import { cube, useQueueTestRunner } from '../shims/queue/queue-functions.js';

const tempDir = useTempDir();

/** Resolves with the first stderr line of `child` that contains `marker`. */
function waitForStderr(child: ChildProcess, marker: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () => reject(new Error(`no "${marker}" on stderr within ${timeoutMs} ms: ${buffered}`)),
      timeoutMs,
    );
    child.stderr!.on('data', (d: Buffer) => {
      buffered += d.toString();
      const line = buffered.split('\n').find((l) => l.includes(marker));
      if (line) {
        clearTimeout(timer);
        resolve(line);
      }
    });
  });
}

test.skipIf(redisSkipRequested())(
  'worker: an unreachable Redis is reported at once and retried; once up, --verbose logs one line per job',
  async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}/cli-worker`;
    const worker = spawnTs('src/cli/main.ts', ['worker', '--queue', url, '--verbose']);
    const ended = finished(worker);
    let redis: ChildProcess | undefined;
    const redisDir = mkdtempSync(path.join(tmpdir(), 'memocall-redis-'));
    const shim = queue({ connection: url, pollMs: 500 });
    try {
      // Well before the 30 s the issue saw pass in silence (the tsx start is most of this).
      const unreachable = await waitForStderr(worker, 'cannot reach Redis', 20_000);
      expect(unreachable).toBe(`memocall worker: cannot reach Redis at 127.0.0.1:${port} (ECONNREFUSED); retrying`);

      const binary = await ensureRedisInstalled();
      redis = spawn(
        binary,
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir],
        {
          stdio: 'ignore',
        },
      );
      await waitForLine(worker, 'listening on queue cli-worker', 60_000);

      const { uri } = tempDir();
      useQueueTestRunner(new MemoizingRunner({ blobRoot: uri, shim }));
      const jobLine = waitForLine(worker, 'memocall worker: job ', 60_000);
      expect((await cube(3)).cubed).toBe(27);
      const memoUri = await cube.memoUri(3);
      expect(await jobLine).toMatch(new RegExp(`^memocall worker: job \\S+: ok in \\d+ ms: ${memoUri}$`));
    } finally {
      await shim.close();
      worker.kill('SIGTERM');
      await ended;
      redis?.kill('SIGKILL');
      rmSync(redisDir, { recursive: true, force: true });
    }
  },
  120_000,
);
