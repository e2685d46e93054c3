import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MissingDependencyError } from '../../src/core/missing-dependency-error.js';
import { OPTIONAL_DEPENDENCIES, importOptionalDependency } from '../../src/core/optional-dependency.js';

// Not servers.ts's PROJECT_ROOT: importing servers.ts makes the global setup start the cloud servers.
const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const packageJson = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};

describe('optional peer dependencies', () => {
  test('the ranges in the error messages are the peerDependencies of package.json, all optional', () => {
    // esbuild is an optional peer too, but never required: without it the subprocess shim runs
    // TypeScript children through tsx, so it has no MissingDependencyError.
    const { esbuild: _accelerator, ...sdks } = packageJson.peerDependencies;
    expect(OPTIONAL_DEPENDENCIES).toEqual(sdks);
    for (const name of Object.keys(OPTIONAL_DEPENDENCIES)) {
      expect(packageJson.peerDependenciesMeta[name]).toEqual({ optional: true });
      // The repo's own install (npm ci) still gets every SDK, at the version the range starts from.
      expect(`^${packageJson.devDependencies[name]}`).toBe(packageJson.peerDependencies[name]);
      expect(packageJson.dependencies[name]).toBeUndefined();
    }
  });

  test('a package that is not found becomes a MissingDependencyError; other failures pass through', async () => {
    const notFound = Object.assign(new Error("Cannot find package 'bullmq' imported from /x/queue-shim.js"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    const error = await importOptionalDependency(['bullmq', 'ioredis'], 'the queue() shim', () =>
      Promise.reject(notFound),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingDependencyError);
    expect((error as MissingDependencyError).code).toBe('MEMOCALL_MISSING_DEPENDENCY');
    expect((error as Error).message).toBe(
      'the queue() shim needs the package bullmq@^6.7.0, which is not installed; run: npm install bullmq@^6.7.0',
    );
    expect((error as Error).cause).toBe(notFound);
    // Another package missing (not one this caller named), or another failure: unchanged.
    const other = Object.assign(new Error("Cannot find package 'left-pad' imported from /x"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    await expect(importOptionalDependency('bullmq', 'x', () => Promise.reject(other))).rejects.toBe(other);
    const broken = new SyntaxError('Unexpected token');
    await expect(importOptionalDependency('bullmq', 'x', () => Promise.reject(broken))).rejects.toBe(broken);
  });
});

/**
 * A user's app in a directory outside the repo, with memocall installed the way npm installs it
 * without its optional peers: the built package files (copied, so Node's resolution cannot walk
 * up into the repo's node_modules), its runtime dependencies, and no SDK.
 */
describe('an app without the optional SDKs installed', () => {
  let app: string;

  beforeAll(() => {
    const dist = path.join(PROJECT_ROOT, 'dist', 'src', 'index.js');
    if (!fs.existsSync(dist)) throw new Error(`${dist} is missing: build first (npm run build)`);
    app = fs.mkdtempSync(path.join(os.tmpdir(), 'memocall-no-sdk-app-'));
    const installed = path.join(app, 'node_modules', 'memocall');
    fs.mkdirSync(installed, { recursive: true });
    fs.copyFileSync(path.join(PROJECT_ROOT, 'package.json'), path.join(installed, 'package.json'));
    fs.cpSync(path.join(PROJECT_ROOT, 'dist', 'src'), path.join(installed, 'dist', 'src'), {
      recursive: true,
      filter: (source) => !source.endsWith('.map') && !source.endsWith('.d.ts'),
    });
    // Runtime dependencies as npm would hoist them: links into the repo's node_modules are fine
    // for these (they import no SDK); the SDKs themselves are nowhere on this app's paths.
    for (const name of Object.keys(packageJson.dependencies)) {
      fs.symlinkSync(path.join(PROJECT_ROOT, 'node_modules', name), path.join(app, 'node_modules', name), 'dir');
    }
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'no-sdk-app', type: 'module' }));
    fs.writeFileSync(path.join(app, 'app.js'), APP_SOURCE);
  });

  afterAll(() => {
    if (app) fs.rmSync(app, { recursive: true, force: true });
  });

  const runApp = (mode: string): Promise<{ name: string; code: string; message: string; isMissing: boolean }> =>
    new Promise((resolve, reject) =>
      execFile(
        process.execPath,
        ['app.js', mode, pathToFileURL(path.join(app, 'memo')).href],
        { cwd: app, env: { PATH: process.env.PATH ?? '', HOME: app }, timeout: 60_000 },
        (error, stdout, stderr) =>
          error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout.trim())),
      ),
    );

  test('the SDKs really are absent for the app', async () => {
    expect(await runApp('probe')).toMatchObject({ code: 'ERR_MODULE_NOT_FOUND' });
  });

  test('an s3:// blob root names @aws-sdk/client-s3, its range and the install command', async () => {
    const outcome = await runApp('s3');
    expect(outcome).toMatchObject({
      name: 'MissingDependencyError',
      code: 'MEMOCALL_MISSING_DEPENDENCY',
      isMissing: true,
    });
    expect(outcome.message).toBe(
      'the s3:// store needs the package @aws-sdk/client-s3@^3.1169.0, which is not installed; ' +
        'run: npm install @aws-sdk/client-s3@^3.1169.0',
    );
  });

  test('the queue() shim names bullmq, its range and the install command', async () => {
    const outcome = await runApp('queue');
    expect(outcome).toMatchObject({
      name: 'MissingDependencyError',
      code: 'MEMOCALL_MISSING_DEPENDENCY',
      isMissing: true,
    });
    expect(outcome.message).toBe(
      'the queue() shim needs the package bullmq@^6.7.0, which is not installed; run: npm install bullmq@^6.7.0',
    );
  });

  test('everything else works without them: a memoized call on a file:// root', async () => {
    expect(await runApp('file')).toMatchObject({ name: 'none', code: 'none', message: '2' });
  });
});

const APP_SOURCE = `
import { MemoizingRunner, MissingDependencyError, queue, useRunner } from 'memocall';
const [mode, fileRoot] = process.argv.slice(2);
const report = (e) =>
  console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message, isMissing: e instanceof MissingDependencyError }));
try {
  if (mode === 'probe') await import('@aws-sdk/client-s3');
  const options =
    mode === 's3' ? { blobRoot: 's3://no-such-bucket/memo' }
    : mode === 'queue' ? { blobRoot: fileRoot, shim: queue({ connection: 'redis://127.0.0.1:1/q' }) }
    : { blobRoot: fileRoot };
  const runner = new MemoizingRunner({ ...options, pipelineId: 'no-sdk' });
  const addOne = useRunner(runner, async (x) => x + 1);
  const result = await addOne(1);
  report({ name: 'none', code: 'none', message: String(result) });
} catch (error) {
  report(error);
}
process.exit(0);
`;
