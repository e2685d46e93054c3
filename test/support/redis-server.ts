/**
 * A real Redis (Debian's `redis-server`) on a free loopback port, for the queue tests and the
 * queue benchmark: started per test file (it starts in milliseconds), stopped after it.
 *
 * Skipping is opt-in only, as for the cloud servers (servers.ts): MEMOCALL_TEST_SKIP=redis
 * (or `all`). Otherwise a missing redis-server is installed when we are root with apt-get (a
 * fresh CI machine), and fails the run naming the package when we are not.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, SKIP_ENV } from './servers.js';

// Re-exported so that test files need not import servers.js: the global setup starts the cloud
// servers for any selected test file that imports it.
export { freePort };

export interface RedisServer {
  /** `redis://127.0.0.1:PORT` */
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Whether MEMOCALL_TEST_SKIP asks to skip the Redis suites. */
export function redisSkipRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  const words = (env[SKIP_ENV] ?? '').toLowerCase().split(/[\s,]+/);
  return words.includes('redis') || words.includes('all');
}

function onPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(path.join(dir, binary))) return path.join(dir, binary);
  }
  return undefined;
}

function run(command: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { timeout: timeoutMs, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 16 << 20 },
      (error, _stdout, stderr) => {
        if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${stderr.slice(-2000)}`));
        else resolve();
      },
    );
  });
}

/** The path of redis-server, installing Debian's package first when it is missing and we may. */
export async function ensureRedisInstalled(): Promise<string> {
  const found = onPath('redis-server');
  if (found) return found;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !onPath('apt-get')) {
    throw new Error(
      `Redis test server cannot start: redis-server (Debian package redis-server) is missing. Install with ` +
        `'apt-get update && apt-get install -y --no-install-recommends redis-server' as root, or skip the queue suites with ${SKIP_ENV}=redis.`,
    );
  }
  process.stderr.write('[memocall redis] installing redis-server (missing)\n');
  await run('apt-get', ['update'], 300_000);
  await run('apt-get', ['install', '-y', '--no-install-recommends', 'redis-server'], 600_000);
  const installed = onPath('redis-server');
  if (!installed)
    throw new Error('Redis test server: redis-server is still missing after apt-get install redis-server');
  return installed;
}

/** Resolves once the server answers PING. */
async function pingUntilReady(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    const pong = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.setTimeout(1_000);
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
      socket.once('error', () => resolve(false));
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (pong) return;
    if (Date.now() > deadline)
      throw new Error(`redis-server did not answer PING on port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts redis-server in the foreground as our child (not daemonized: its PID is ours to stop),
 * in memory only (`--save "" --appendonly no`), bound to 127.0.0.1 (and to `alsoBind`: a private
 * link's address, for a test that cuts a worker off).
 */
export async function startRedis(opts: { alsoBind?: string[] } = {}): Promise<RedisServer> {
  const binary = await ensureRedisInstalled();
  const dir = await mkdtemp(path.join(tmpdir(), 'memocall-redis-'));
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const child = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        ['127.0.0.1', ...(opts.alsoBind ?? [])].join(' '),
        // Protected mode refuses clients off loopback; an extra address is a private test link.
        ...(opts.alsoBind?.length ? ['--protected-mode', 'no'] : []),
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--daemonize',
        'no',
        '--loglevel',
        'warning',
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const killAtExit = () => child.kill('SIGKILL');
    process.once('exit', killAtExit);
    const stop = async (): Promise<void> => {
      process.off('exit', killAtExit);
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(timer);
      }
    };
    try {
      await pingUntilReady(port, child, 15_000);
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        pid: child.pid!,
        stop: async () => {
          await stop();
          await rm(dir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      await stop();
      lastError = new Error(`${(err as Error).message}\n${stderr.slice(-2000)}`);
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error(`Redis test server did not start: ${(lastError as Error).message}`);
}
