// Starts `memocall worker` processes for the queue tests: from source through tsx, so that the
// workers load the very memocall the test functions import.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { finished, projectRoot, spawnTs, tsxLoader, waitForLine, type ChildResult } from '../../support/child.js';

export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves with how the process ended. */
  ended: Promise<ChildResult>;
  /** SIGTERM, and waits for the graceful exit. */
  stop(): Promise<ChildResult>;
}

export async function startWorker(
  queueUrl: string,
  args: string[] = [],
  env: Record<string, string> = {},
  netns?: string,
): Promise<WorkerProcess> {
  const argv = ['worker', '--queue', queueUrl, ...args];
  // In a network namespace: `ip netns exec` execs node in place (the pid is the worker's).
  const child = netns
    ? spawn(
        'ip',
        [
          'netns',
          'exec',
          netns,
          process.execPath,
          '--import',
          tsxLoader,
          path.join(projectRoot, 'src/cli/main.ts'),
          ...argv,
        ],
        { cwd: projectRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
      )
    : spawnTs('src/cli/main.ts', argv, { env });
  // Attach the collector first: it must see all output (waitForLine only watches).
  const ended = finished(child);
  await waitForLine(child, 'listening on queue', 60_000);
  return {
    child,
    pid: child.pid!,
    ended,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return ended;
    },
  };
}
