import { chmodSync, chownSync, lchownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { ConfigurationError, KEY_FORMAT_VERSION, MemoizingRunner, pure, resolveConfig } from '../../src/index.js';
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
    expect(await triple.memoUri(4)).toMatch(
      new RegExp(`^${uri}/${KEY_FORMAT_VERSION}/nightly/test~memo~config\\.test--triple/`),
    );
    const home = pure(async (x: number) => x, { id: 'home-check', blobRoot: 'file://~/.memocall-test-never-written' });
    expect(await home.memoUri(1)).toMatch(
      new RegExp(`^${pathToFileURL(homedir()).href}/\\.memocall-test-never-written/${KEY_FORMAT_VERSION}/`),
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

describe('blobRoot: a URI must name a registered store, spelled exactly', () => {
  const typos: [string, RegExp][] = [
    ['s3:/bucket/memo', /blobRoot 's3:\/bucket\/memo': did you mean 's3:\/\/bucket\/memo'\?/],
    ['file:/tmp/x', /did you mean 'file:\/\/\/tmp\/x'\?/],
    ['S3://bucket/x', /did you mean 's3:\/\/bucket\/x'\?/],
    ['gs://bucket/x', /no blob store is registered for 'gs:\/\/'; did you mean one of .*'s3:\/\/'/],
    ['fiel:///tmp/x', /did you mean 'file:\/\/'\?/],
    ['s3//bucket/x', /did you mean 's3:\/\/bucket\/x'\?/],
    ['data:v2/store', /for a relative path starting with 'data:' write '\.\/data:v2\/store'/],
  ];

  test('MemoizingRunner refuses typos with a suggestion instead of storing in a folder named s3:', () => {
    for (const [root, message] of typos) {
      expect(() => new MemoizingRunner({ blobRoot: root }), root).toThrow(ConfigurationError);
      expect(() => new MemoizingRunner({ blobRoot: root }), root).toThrow(message);
    }
  });

  test('plain absolute paths, ~ paths and relative paths that cannot be read as URIs keep working', () => {
    const { dir, uri } = tempDir();
    expect(new MemoizingRunner({ blobRoot: dir }).blobRoot).toBe(uri);
    expect(new MemoizingRunner({ blobRoot: '~/x' }).blobRoot).toBe(pathToFileURL(path.join(homedir(), 'x')).href);
    expect(new MemoizingRunner({ blobRoot: 'file://~/x' }).blobRoot).toBe(
      pathToFileURL(path.join(homedir(), 'x')).href,
    );
    expect(new MemoizingRunner({ blobRoot: 'store/memo' }).blobRoot).toBe(
      pathToFileURL(path.resolve('store/memo')).href,
    );
    expect(new MemoizingRunner({ blobRoot: './data:v2' }).blobRoot).toBe(pathToFileURL(path.resolve('data:v2')).href);
    expect(new MemoizingRunner({ blobRoot: 'memory://fine' }).blobRoot).toBe('memory://fine');
    expect(new MemoizingRunner({ blobRoot: 's3://bucket/prefix/' }).blobRoot).toBe('s3://bucket/prefix');
  });

  test('credentials in a blob root are refused, and never echoed', () => {
    const attempt = () => new MemoizingRunner({ blobRoot: 's3://AKIAEXAMPLE:wJalrSECRET@bucket/memo' });
    expect(attempt).toThrow(/blobRoot 's3:\/\/\*\*\*@bucket\/memo': credentials do not belong in the blob root/);
    try {
      attempt();
    } catch (err) {
      expect((err as Error).message).not.toMatch(/AKIAEXAMPLE|wJalrSECRET/);
    }
  });

  test('pure, MEMOCALL_BLOB_ROOT and memocall.config.json are checked too, each named', async () => {
    const { dir } = tempDir();
    expect(() => resolveConfig({ blobRoot: 's3:/b/m' }, {}, dir)).toThrow(/^blobRoot 's3:\/b\/m': did you mean/);
    expect(() => resolveConfig({}, { MEMOCALL_BLOB_ROOT: 'file:/tmp/x' }, dir)).toThrow(
      /^MEMOCALL_BLOB_ROOT 'file:\/tmp\/x': did you mean 'file:\/\/\/tmp\/x'\?/,
    );
    writeFileSync(path.join(dir, 'memocall.config.json'), JSON.stringify({ blobRoot: 'S3://bucket/x' }));
    expect(() => resolveConfig({}, {}, dir)).toThrow(
      /memocall\.config\.json: blobRoot 'S3:\/\/bucket\/x': did you mean/,
    );
    const f = pure(async (x: number) => x, { id: 'pure/typo-root', blobRoot: 'gs://bucket' });
    await expect(f(1)).rejects.toThrow(ConfigurationError);
  });
});

describe('memocall.config.json is honoured only when nobody else could have written it', () => {
  afterEach(() => vi.restoreAllMocks());

  const warningsDuring = (fn: () => void): string[] => {
    const warnings: string[] = [];
    const spy = vi.spyOn(process, 'emitWarning').mockImplementation(((message: string | Error) => {
      warnings.push(String(message));
    }) as typeof process.emitWarning);
    fn();
    spy.mockRestore();
    return warnings;
  };

  test('a group- or world-writable file is ignored with a warning naming it', () => {
    const { dir } = tempDir();
    const file = path.join(dir, 'memocall.config.json');
    writeFileSync(file, JSON.stringify({ pipelineId: 'planted' }));
    chmodSync(file, 0o644);
    expect(resolveConfig({}, {}, dir).pipelineId).toBe('planted');
    chmodSync(file, 0o666);
    let config: ReturnType<typeof resolveConfig> | undefined;
    const warnings = warningsDuring(() => (config = resolveConfig({}, {}, dir)));
    expect(config!.pipelineId).toBe('default');
    expect(warnings.join('\n')).toContain(`ignoring ${file}: other users may write it (mode 0666`);
    chmodSync(file, 0o620);
    expect(resolveConfig({}, {}, dir).pipelineId).toBe('default');
  });

  test.skipIf(process.getuid?.() !== 0)(
    'a file owned by another user (nobody) is ignored, even if it is read-only',
    () => {
      const { dir } = tempDir();
      const nested = path.join(dir, 'project');
      mkdirSync(nested);
      const file = path.join(dir, 'memocall.config.json');
      writeFileSync(file, JSON.stringify({ blobRoot: 'memory://attacker' }));
      chmodSync(file, 0o644);
      chownSync(file, 65534, 65534);
      let config: ReturnType<typeof resolveConfig> | undefined;
      const warnings = warningsDuring(() => (config = resolveConfig({}, {}, nested)));
      expect(config!.blobRoot).toBe('file://~/.memocall');
      expect(warnings.join('\n')).toContain(`ignoring ${file}: it is owned by uid 65534`);
      // A symbolic link someone else planted to a file of ours is not trusted either.
      const ours = path.join(dir, 'ours.json');
      writeFileSync(ours, JSON.stringify({ pipelineId: 'ours' }));
      const link = path.join(nested, 'memocall.config.json');
      symlinkSync(ours, link);
      expect(resolveConfig({}, {}, nested).pipelineId).toBe('ours');
      lchownSync(link, 65534, 65534);
      expect(resolveConfig({}, {}, nested).pipelineId).toBe('default');
    },
  );
});
