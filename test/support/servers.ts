/**
 * Real S3 (Ceph RADOS Gateway) and Azure Blob (azurite) servers on free loopback ports, for the
 * test run (started once by servers.global-setup.ts) and for the cloud benchmarks.
 *
 * Tests reach them through `cloudServers()` (vitest inject). Skipping is opt-in only:
 *   MEMOCALL_TEST_SKIP=s3,azure   (or `cloud` for both)
 * Otherwise a server that cannot start fails the run, naming the missing piece.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The environment variable that skips cloud suites; the only way a cloud suite is skipped. */
export const SKIP_ENV = 'MEMOCALL_TEST_SKIP';
/** The vitest `provide`/`inject` key; test files that need the servers mention it (see global setup). */
export const PROVIDE_KEY = 'memocallCloud';

/** Bucket and container the global setup creates; tests use unique prefixes inside them. */
export const TEST_BUCKET = 'memocall-test';
export const TEST_CONTAINER = 'memocall-test';

export interface S3Server {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

export interface AzureServer {
  /** Blob service URL including the account path: http://127.0.0.1:PORT/devstoreaccount1 */
  blobEndpoint: string;
  account: string;
  accountKey: string;
  connectionString: string;
}

export interface CloudServers {
  s3?: S3Server;
  azure?: AzureServer;
}

export type CloudKind = 's3' | 'azure';

/** Which kinds the user asked to skip with MEMOCALL_TEST_SKIP. */
export function skipRequested(kind: CloudKind, env: NodeJS.ProcessEnv = process.env): boolean {
  const words = (env[SKIP_ENV] ?? '')
    .split(/[\s,]+/)
    .map((w) => w.trim().toLowerCase())
    .filter(Boolean);
  return words.includes(kind) || words.includes('cloud') || words.includes('all');
}

// ---- ports -----------------------------------------------------------------------------------

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port')),
      );
    });
  });
}

// ---- Ceph RGW --------------------------------------------------------------------------------

const RGW_SCRIPT = join(PROJECT_ROOT, 'scripts', 'ceph-rgw-up.sh');

/** Binaries scripts/ceph-rgw-up.sh needs, with the Debian package that provides each. */
const CEPH_BINARIES: ReadonlyArray<[string, string]> = [
  ['monmaptool', 'ceph-mon'],
  ['ceph-mon', 'ceph-mon'],
  ['ceph-osd', 'ceph-osd'],
  ['radosgw', 'radosgw'],
  ['radosgw-admin', 'radosgw'],
  ['ceph', 'ceph-common'],
  ['curl', 'curl'],
];
const CEPH_PACKAGES = ['ceph-mon', 'ceph-osd', 'radosgw', 'ceph-common', 'curl'];

/** ceph-rgw-up.sh's exit code when a port was taken between our probe and Ceph's bind. */
const RGW_EXIT_PORT_TAKEN = 5;

function onPath(binary: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, binary)));
}

function run(
  command: string,
  args: string[],
  options: { timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    execFile(
      command,
      args,
      { timeout: options.timeoutMs, maxBuffer: 64 << 20, env: options.env ?? process.env },
      (error, stdout, stderr) => {
        if (error) reject(Object.assign(error, { stdout, stderr }));
        else resolveRun({ stdout, stderr });
      },
    );
  });
}

/**
 * Installs the Ceph packages when a binary is missing and we are root (a fresh CI machine);
 * otherwise fails naming exactly what is missing and how to get it. The install itself
 * (`ceph-rgw-up.sh --install`) holds a machine-wide lock and waits for dpkg's, so two test runs
 * starting at once on a fresh machine install once and both go on.
 */
export async function ensureCephInstalled(log: (line: string) => void = () => undefined): Promise<void> {
  const missing = CEPH_BINARIES.filter(([binary]) => !onPath(binary));
  if (missing.length === 0) return;
  const names = missing.map(([binary, pkg]) => `${binary} (Debian package ${pkg})`).join(', ');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !onPath('apt-get')) {
    throw new Error(
      `S3 test server (Ceph RGW) cannot start: missing ${names}. Install with ` +
        `'apt-get update && apt-get install -y --no-install-recommends ${CEPH_PACKAGES.join(' ')}' as root, ` +
        `or skip the S3 suites with ${SKIP_ENV}=s3.`,
    );
  }
  log(`installing ${CEPH_PACKAGES.join(' ')} (missing ${names}); takes about a minute`);
  try {
    // Up to 20 min waiting for another installer, then apt's own time.
    await run('bash', [RGW_SCRIPT, '--install'], { timeoutMs: 2_400_000 });
  } catch (error) {
    throw new Error(`S3 test server (Ceph RGW) cannot start: ${describeScriptFailure(error, 'installing packages')}`);
  }
  const still = CEPH_BINARIES.filter(([binary]) => !onPath(binary));
  if (still.length > 0)
    throw new Error(`S3 test server (Ceph RGW): still missing after install: ${still.map(([b]) => b).join(', ')}`);
}

/**
 * One line naming what failed, from ceph-rgw-up.sh's `RGW_FAILED <step>: <cause>` line (or, when
 * the script was killed, the last `RGW_STEP` it reached), followed by the script's own details.
 */
export function describeScriptFailure(error: unknown, doing: string): string {
  const e = error as Error & { stderr?: string; killed?: boolean; signal?: string | null; code?: unknown };
  const stderr = e.stderr ?? '';
  const failed = /^RGW_FAILED (.*)$/m.exec(stderr)?.[1];
  const steps = [...stderr.matchAll(/^RGW_STEP (?:\d+s )?(.*)$/gm)];
  const lastStep = steps.at(-1)?.[1];
  let headline: string;
  if (failed) headline = failed;
  else if (e.killed || e.signal)
    headline = `${lastStep ?? doing}: killed (${e.signal ?? 'timeout'}) before it finished`;
  else headline = `${lastStep ?? doing}: ${e.message.split('\n')[0]}`;
  const details = stderr
    .split('\n')
    .filter((line) => !line.startsWith('RGW_STEP ') && !line.startsWith('RGW_FAILED '))
    .join('\n')
    .trim()
    .slice(-3000);
  return details ? `${headline}\n${details}` : headline;
}

export interface RunningServer<T> {
  info: T;
  /** PIDs this start created (for the exit-time safety net). */
  pids(): number[];
  stop(): Promise<void>;
}

export interface RgwOptions {
  /** RAM the memstore OSD may use; every object lives in it. Default 2 GiB. */
  memstoreBytes?: number;
  log?: (line: string) => void;
}

/** Starts a single-node Ceph cluster + radosgw via scripts/ceph-rgw-up.sh (about 16 s, 35 s under load). */
export async function startRgw(options: RgwOptions = {}): Promise<RunningServer<S3Server>> {
  await ensureCephInstalled(options.log);
  const started = Date.now();
  // Only a port taken between our probe and Ceph's bind is worth another attempt (new ports);
  // any other failure is reported at once with its cause.
  for (let attempt = 1; ; attempt++) {
    const dir = await mkdtemp(join(tmpdir(), 'memocall-rgw-'));
    const [rgwPort, monPort] = [await freePort(), await freePort()];
    const env = {
      ...process.env,
      RGW_PORT: String(rgwPort),
      MON_PORT: String(monPort),
      MEMSTORE_BYTES: String(options.memstoreBytes ?? 2 * 1024 ** 3),
    };
    const stop = async (): Promise<void> => {
      await run('bash', [RGW_SCRIPT, '--stop', dir], { timeoutMs: 30_000 }).catch(() => undefined);
      killPids(pidsIn(dir), 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
    };
    try {
      const { stdout } = await run('bash', [RGW_SCRIPT, dir], { timeoutMs: 300_000, env });
      const ready = /RGW_READY (\S+) (\S+) (\S+)/.exec(stdout);
      if (!ready?.[1] || !ready[2] || !ready[3])
        throw Object.assign(new Error(`ceph-rgw-up.sh printed no RGW_READY line; stdout: ${stdout.slice(-500)}`), {
          stderr: '',
        });
      options.log?.(`RGW up at attempt ${attempt} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return {
        info: { endpoint: ready[1], accessKeyId: ready[2], secretAccessKey: ready[3], region: 'us-east-1' },
        pids: () => pidsIn(dir),
        stop,
      };
    } catch (error) {
      await stop();
      if ((error as { code?: unknown }).code === RGW_EXIT_PORT_TAKEN && attempt < 3) {
        options.log?.(
          `RGW start: a port was taken (${describeScriptFailure(error, 'start').split('\n')[0]}); new ports`,
        );
        continue;
      }
      throw new Error(
        `S3 test server (Ceph RGW) did not start: ${describeScriptFailure(error, 'ceph-rgw-up.sh')}\n` +
          `(skip the S3 suites with ${SKIP_ENV}=s3)`,
      );
    }
  }
}

function pidsIn(dir: string): number[] {
  const runDir = join(dir, 'run');
  if (!existsSync(runDir)) return [];
  return readdirSync(runDir)
    .filter((f) => f.endsWith('.pid'))
    .map((f) => Number(readFileSync(join(runDir, f), 'utf8').trim()))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

function killPids(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

// ---- azurite ---------------------------------------------------------------------------------

/** azurite's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export function azuriteConnectionString(blobEndpoint: string): string {
  return `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};`;
}

/** Starts azurite's blob service in memory on a free port (about 1.5 s). */
export async function startAzurite(): Promise<RunningServer<AzureServer>> {
  const main = join(PROJECT_ROOT, 'node_modules', 'azurite', 'dist', 'src', 'blob', 'main.js');
  if (!existsSync(main)) {
    throw new Error(
      `Azure test server (azurite) cannot start: ${main} is missing; run 'npm ci' (azurite is a devDependency), or skip with ${SKIP_ENV}=azure.`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'memocall-azurite-'));
  // The node binary itself, not the .bin shim: the PID we hold is the server's own.
  const child: ChildProcess = spawn(
    process.execPath,
    [
      main,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      '0',
      '--skipApiVersionCheck',
      '--disableTelemetry',
      '--inMemoryPersistence',
      '--silent',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir },
  );
  let output = '';
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const port = await new Promise<number>((resolvePort, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "listens on" line within 30 s; output:\n${output}`)), 30_000);
      const onData = (data: Buffer): void => {
        output += data.toString();
        const m = /listens on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
        if (m?.[1]) {
          clearTimeout(timer);
          resolvePort(Number(m[1]));
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`azurite exited with code ${code}; output:\n${output}`));
      });
    });
    // Keep draining its output so a chatty server never blocks on a full pipe.
    child.stdout?.resume();
    child.stderr?.resume();
    const blobEndpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
    return {
      info: {
        blobEndpoint,
        account: AZURITE_ACCOUNT,
        accountKey: AZURITE_KEY,
        connectionString: azuriteConnectionString(blobEndpoint),
      },
      pids: () => (child.pid !== undefined && child.exitCode === null ? [child.pid] : []),
      stop,
    };
  } catch (error) {
    await stop();
    throw new Error(`Azure test server (azurite) did not start: ${(error as Error).message}`);
  }
}

/**
 * Kills `pids` synchronously when this process exits for any reason (Ctrl-C, a crash in a
 * teardown): no Ceph daemon or azurite outlives the run that started it.
 */
export function killOnExit(pids: () => number[]): () => void {
  const handler = (): void => killPids(pids(), 'SIGKILL');
  process.once('exit', handler);
  return () => process.off('exit', handler);
}

// ---- for test files --------------------------------------------------------------------------

/**
 * The servers of this run (vitest inject). Throws, naming the fix, when the global setup did not
 * run; callers check `skipRequested(kind)` first.
 */
export async function cloudServers(): Promise<CloudServers> {
  const { inject } = await import('vitest');
  const servers = (inject as unknown as (key: string) => CloudServers | undefined)(PROVIDE_KEY);
  if (servers === undefined) {
    throw new Error(
      `cloud test servers were not started: vitest.config.ts needs globalSetup: ['./test/support/servers.global-setup.ts'] (or set ${SKIP_ENV}=s3,azure)`,
    );
  }
  return servers;
}

export async function s3Server(): Promise<S3Server> {
  const s3 = (await cloudServers()).s3;
  if (!s3)
    throw new Error(
      `S3 test server is not running although ${SKIP_ENV} does not skip it (see the global setup's output)`,
    );
  return s3;
}

export async function azureServer(): Promise<AzureServer> {
  const azure = (await cloudServers()).azure;
  if (!azure)
    throw new Error(
      `Azure test server is not running although ${SKIP_ENV} does not skip it (see the global setup's output)`,
    );
  return azure;
}

/**
 * Environment for a child process (a runner subprocess, a remote entry) to reach the S3 test
 * server through the store's ordinary configuration: endpoint by MEMOCALL_S3_ENDPOINT,
 * credentials by the SDK's default chain. Use with s3://memocall-test/<your prefix>.
 */
export function s3ChildEnv(s3: S3Server): Record<string, string> {
  return {
    MEMOCALL_S3_ENDPOINT: s3.endpoint,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_REGION: s3.region,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/**
 * Environment for a child process to reach azurite: the connection string (whose account,
 * devstoreaccount1, is the one in adls://devstoreaccount1/memocall-test/<your prefix>).
 */
export function azureChildEnv(azure: AzureServer): Record<string, string> {
  return { AZURE_STORAGE_CONNECTION_STRING: azure.connectionString };
}
