/**
 * Debian tools some suites run besides the servers: `faketime` (clock-skew tests of leases and
 * file locks). Installed by the global setup, as root, when missing — like the Ceph and Redis
 * packages — so a fresh machine's first `npm test` has them; otherwise the error names the package.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const TOOLS: ReadonlyArray<[command: string, debianPackage: string]> = [['faketime', 'faketime']];

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, command);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

function aptGet(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'apt-get',
      ['-o', 'DPkg::Lock::Timeout=600', ...args],
      { timeout: 900_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 16 << 20 },
      (error, _stdout, stderr) =>
        error
          ? reject(new Error(`apt-get ${args.join(' ')} failed: ${error.message}\n${stderr.slice(-2000)}`))
          : resolve(),
    );
  });
}

export async function ensureDebianTools(log: (line: string) => void): Promise<void> {
  const missing = TOOLS.filter(([command]) => !onPath(command)).map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !onPath('apt-get'))
    throw new Error(
      `test tools missing: ${missing.join(', ')}; install as root with 'apt-get install -y --no-install-recommends ${missing.join(' ')}'`,
    );
  log(`installing ${missing.join(', ')} (missing)`);
  await aptGet(['update']);
  await aptGet(['install', '-y', '--no-install-recommends', ...missing]);
}
