import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { projectRoot } from '../support/child.js';

// What a user of the published package does, outside this repository: a temp directory holds the
// package built and packed as `npm pack` would publish it, an app that installed that tarball,
// and an app that reaches the package through a symlink (`npm link`, workspaces).

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without the npm_* variables of an enclosing `npm test`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(name) && name !== 'INIT_CWD' && !name.startsWith('MEMOCALL_')) env[name] = value;
  }
  return { ...env, ...extra };
}

export function run(command: string, args: string[], cwd: string, env = cleanEnv()): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function mustRun(command: string, args: string[], cwd: string): Promise<CommandResult> {
  const result = await run(command, args, cwd);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} (in ${cwd}) exited ${result.code}:\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result;
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
export const tscBin = path.join(projectRoot, 'node_modules', '.bin', 'tsc');
const repoModules = path.join(projectRoot, 'node_modules');

/**
 * The package as a checkout would hold it after a build (package.json, README, docs, bin, src and
 * the compiled dist/, its dependencies through a node_modules symlink), built into a temp
 * directory so the repository's own dist/ is never rewritten under other running tests.
 */
async function buildCheckout(root: string): Promise<string> {
  const checkout = path.join(root, 'memocall');
  mkdirSync(checkout);
  for (const entry of ['package.json', 'README.md', 'docs', 'bin', 'src', 'tsconfig.json']) {
    cpSync(path.join(projectRoot, entry), path.join(checkout, entry), { recursive: true });
  }
  await mustRun(tscBin, ['-p', path.join(projectRoot, 'tsconfig.json'), '--outDir', path.join(checkout, 'dist')], root);
  symlinkSync(repoModules, path.join(checkout, 'node_modules'), 'dir');
  return checkout;
}

/**
 * `npm install` of a tarball, from the npm cache (filled by the repository's own install) when it
 * can. The dependencies a previous run installed are hard-linked in first, so npm only replaces
 * memocall itself (~40 s less on a loaded machine); the first run seeds them.
 */
async function installTarball(app: string, tarball: string): Promise<CommandResult> {
  const seed = path.join(tmpdir(), `${DEPENDENCIES_PREFIX}${dependenciesKey()}`);
  const reuse = process.platform !== 'win32' && existsSync(path.join(seed, COMPLETE));
  if (reuse) {
    await mustRun('cp', ['-al', path.join(seed, 'node_modules'), path.join(app, 'node_modules')], app);
    // Without the earlier memocall npm installs this one; with it, npm may keep the earlier one.
    rmSync(path.join(app, 'node_modules', 'memocall'), { recursive: true, force: true });
  }
  let installed = await run(npm, ['install', '--offline', '--no-audit', '--no-fund', tarball], app);
  if (installed.code !== 0) {
    installed = await mustRun(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], app);
  }
  if (!reuse && process.platform !== 'win32') await seedDependencies(app, seed);
  return installed;
}

const DEPENDENCIES_PREFIX = 'memocall-user-app-deps-';
const COMPLETE = 'complete';

/** What decides the installed tree: memocall's dependencies, its version, Node's. */
function dependenciesKey(): string {
  const pkg = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as Record<string, unknown>;
  const key = JSON.stringify([pkg.version, pkg.dependencies, process.version]);
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/** Keeps `app`'s node_modules (hard links) for later runs: written aside, then renamed into place. */
async function seedDependencies(app: string, seed: string): Promise<void> {
  const pending = `${seed}.${process.pid}`;
  mkdirSync(pending);
  await mustRun('cp', ['-al', path.join(app, 'node_modules'), path.join(pending, 'node_modules')], app);
  writeFileSync(path.join(pending, COMPLETE), '');
  try {
    renameSync(pending, seed);
  } catch {
    rmSync(pending, { recursive: true, force: true }); // another run seeded it first
  }
  // Seeds of other dependency sets, unused for a day, go.
  for (const name of readdirSync(tmpdir())) {
    const other = path.join(tmpdir(), name);
    if (name.startsWith(DEPENDENCIES_PREFIX) && other !== seed && Date.now() - statSync(other).mtimeMs > 86_400_000) {
      rmSync(other, { recursive: true, force: true });
    }
  }
}

/** The installed package must be the one just built, byte for byte (never a stale install). */
function expectInstalledFrom(checkout: string, app: string): void {
  const built = path.join(checkout, 'dist', 'src');
  const installed = path.join(app, 'node_modules', 'memocall', 'dist', 'src');
  for (const entry of readdirSync(built, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.relative(built, path.join(entry.parentPath, entry.name));
    if (!readFileSync(path.join(built, file)).equals(readFileSync(path.join(installed, file)))) {
      throw new Error(`the installed memocall's dist/src/${file} is not the one just built`);
    }
  }
}

export interface UserApps {
  root: string;
  /** The app that installed the packed tarball. */
  tarballApp: string;
  /** The app whose node_modules/memocall is a symlink to the checkout. */
  linkedApp: string;
  /** tsx's CLI, as `npx tsx` runs it. */
  tsxCli: string;
  /** What `npm install <tarball>` printed. */
  installOutput: string;
}

/**
 * Builds and packs memocall, installs the tarball into one app and links the checkout into
 * another; both apps get the pipeline of `appFiles`. tsx, the user's own dev tool, is linked
 * from this repository's node_modules.
 */
export async function makeUserApps(appFiles: Record<string, string>): Promise<UserApps> {
  const root = mkdtempSync(path.join(tmpdir(), 'memocall-user-'));
  try {
    return await populate(root, appFiles);
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
}

async function populate(root: string, appFiles: Record<string, string>): Promise<UserApps> {
  const checkout = await buildCheckout(root);
  const packed = await mustRun(npm, ['pack', '--ignore-scripts', '--pack-destination', root], checkout);
  const tarballName = packed.stdout.trim().split('\n').pop() ?? '';
  const tarball = path.join(root, tarballName);
  if (!readdirSync(root).includes(tarballName)) throw new Error(`npm pack made no tarball: ${packed.stdout}`);

  const tarballApp = path.join(root, 'tarball-app');
  const linkedApp = path.join(root, 'linked-app');
  for (const app of [tarballApp, linkedApp]) {
    for (const [file, text] of Object.entries(appFiles)) {
      mkdirSync(path.dirname(path.join(app, file)), { recursive: true });
      writeFileSync(path.join(app, file), text);
    }
  }
  const installed = await installTarball(tarballApp, tarball);
  expectInstalledFrom(checkout, tarballApp);
  mkdirSync(path.join(linkedApp, 'node_modules'));
  symlinkSync(checkout, path.join(linkedApp, 'node_modules', 'memocall'), 'dir');
  for (const app of [tarballApp, linkedApp]) {
    for (const dependency of ['tsx', '@types/node']) {
      const target = path.join(app, 'node_modules', dependency);
      if (existsSync(target)) continue;
      mkdirSync(path.dirname(target), { recursive: true });
      symlinkSync(path.join(repoModules, dependency), target, 'dir');
    }
  }
  return {
    root,
    tarballApp,
    linkedApp,
    tsxCli: path.join(repoModules, 'tsx', 'dist', 'cli.mjs'),
    installOutput: installed.stdout + installed.stderr,
  };
}
