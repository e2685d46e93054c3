import { mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { ConfigurationError, MemoizingRunner, pure, resolveConfig } from '../../src/index.js';
import { useTempDir } from '../support/temp-dir.js';

const tempDir = useTempDir();

describe('resolveConfig: options > MEMOCALL_* env > memocall.config.json > defaults', () => {
  test('defaults', () => {
    const { dir } = tempDir();
    expect(resolveConfig({}, {}, dir)).toEqual({
      blobRoot: 'file://~/.memocall',
      pipelineId: 'default',
      shim: 'samethread',
      rerunErrors: true,
      leaseTtlMs: 90_000,
    });
  });

  test('pure and a MemoizingRunner given no settings agree on every default', () => {
    const config = resolveConfig({}, {}, tempDir().dir);
    const runner = new MemoizingRunner();
    expect(runner.pipelineId).toBe(config.pipelineId);
    expect(runner.leaseTtlMs).toBe(config.leaseTtlMs);
    expect(runner.rerunErrors).toBe(config.rerunErrors);
    expect(runner.blobRoot).toBe(new MemoizingRunner({ blobRoot: config.blobRoot }).blobRoot);
  });

  test('each layer overrides the one below it, setting by setting', () => {
    const { dir } = tempDir();
    const nested = path.join(dir, 'project', 'src', 'deep');
    mkdirSync(nested, { recursive: true });
    writeFileSync(
      path.join(dir, 'project', 'memocall.config.json'),
      JSON.stringify({ blobRoot: 'file:///from-file', pipelineId: 'file-pipeline', leaseTtlMs: 5000 }),
    );
    // The file is found upward from the working directory.
    expect(resolveConfig({}, {}, nested)).toMatchObject({
      blobRoot: 'file:///from-file',
      pipelineId: 'file-pipeline',
      leaseTtlMs: 5000,
    });
    const env = { MEMOCALL_PIPELINE_ID: 'env-pipeline', MEMOCALL_RERUN_ERRORS: '0' };
    expect(resolveConfig({}, env, nested)).toMatchObject({
      blobRoot: 'file:///from-file',
      pipelineId: 'env-pipeline',
      rerunErrors: false,
      leaseTtlMs: 5000,
    });
    expect(resolveConfig({ pipelineId: 'option' }, env, nested)).toMatchObject({
      pipelineId: 'option',
      rerunErrors: false,
    });
  });

  test('bad settings are named with their source', () => {
    const { dir } = tempDir();
    writeFileSync(path.join(dir, 'memocall.config.json'), JSON.stringify({ blobroot: 'x' }));
    expect(() => resolveConfig({}, {}, dir)).toThrow(/memocall\.config\.json: blobroot is not a known setting/);
    writeFileSync(path.join(dir, 'memocall.config.json'), '{ not json');
    expect(() => resolveConfig({}, {}, dir)).toThrow(ConfigurationError);
    expect(() => resolveConfig({}, { MEMOCALL_LEASE_TTL_MS: 'soon' }, tempDir().dir)).toThrow(
      /MEMOCALL_LEASE_TTL_MS must be a positive number/,
    );
    expect(() => resolveConfig({}, { MEMOCALL_LEASE_TTL_MS: 'Infinity' }, tempDir().dir)).toThrow(ConfigurationError);
    expect(() => resolveConfig({}, { MEMOCALL_RERUN_ERRORS: 'yes' }, tempDir().dir)).toThrow(
      /MEMOCALL_RERUN_ERRORS must be 1\/true or 0\/false/,
    );
  });
});

describe('pure', () => {
  afterEach(() => vi.unstubAllEnvs());

  test('stores under the configured blob root and pipeline id, with the file:// ~ expanded', async () => {
    const { uri } = tempDir();
    vi.stubEnv('MEMOCALL_BLOB_ROOT', uri);
    vi.stubEnv('MEMOCALL_PIPELINE_ID', 'nightly');
    let runs = 0;
    const triple = pure(async (x: number) => {
      runs++;
      return x * 3;
    });
    expect(await triple(4)).toBe(12);
    expect(await triple(4)).toBe(12);
    expect(runs).toBe(1);
    expect(await triple.memoUri(4)).toMatch(new RegExp(`^${uri}/memocall-v1/nightly/test/memo/config\\.test--triple/`));
    const home = pure(async (x: number) => x, { id: 'home-check', blobRoot: 'file://~/.memocall-test-never-written' });
    expect(await home.memoUri(1)).toMatch(
      new RegExp(`^${pathToFileURL(homedir()).href}/\\.memocall-test-never-written/memocall-v1/`),
    );
  });

  test("shim 'off' (option or MEMOCALL_SHIM) runs the bare function", async () => {
    let runs = 0;
    const f = pure(async (x: number) => ++runs + x, { id: 'pure/off', shim: 'off' });
    await f(1);
    await f(1);
    expect(runs).toBe(2);
    await expect(f.memoUri(1)).rejects.toThrow(/not memoized/);
    vi.stubEnv('MEMOCALL_SHIM', 'off');
    const g = pure(async (x: number) => ++runs + x, { id: 'pure/off-env' });
    await g(1);
    await g(1);
    expect(runs).toBe(4);
  });

  test('an unknown shim name is a clear error at the first call', async () => {
    vi.stubEnv('MEMOCALL_SHIM', 'teleport');
    const f = pure(async (x: number) => x, { id: 'pure/unknown-shim' });
    await expect(f(1)).rejects.toThrow(/unknown shim "teleport"/);
  });
});
