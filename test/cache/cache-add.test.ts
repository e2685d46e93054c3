// Uploading through the cache (`add`, `uploadFileThroughCache`), the remembered digests of local
// files, and the process's default cache — in-process, with absolute temp paths, so that
// `npm run mutate` (which cannot run the files suites) sees them.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, test, vi } from 'vitest';
import '../../src/blobstore/builtin-stores.js';
import { lookupBlobStore } from '../../src/blobstore/registry.js';
import { CACHE_DIR_ENV, CacheLayout, FILL_STAMP_MS, resolveCacheDir } from '../../src/cache/cache-layout.js';
import { CACHE_MAX_BYTES_ENV, DownloadCache } from '../../src/cache/download-cache.js';
import { listEntries } from '../../src/cache/eviction.js';
import { digestOfLocalFile, rememberedDigest, stillHashesTo } from '../../src/cache/local-file-digest.js';
import { readIndex } from '../../src/cache/uri-index.js';
import { ConfigurationError } from '../../src/core/configuration-error.js';
import { useTempDir } from '../support/temp-dir.js';

const tempDir = useTempDir();
const sha = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

const savedEnv = { ...process.env };
afterEach(() => {
  for (const name of [CACHE_DIR_ENV, CACHE_MAX_BYTES_ENV]) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
});

function writeFile(dir: string, name: string, data: Uint8Array | string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, data);
  return file;
}

describe('DownloadCache options', () => {
  test('maxBytes: the option, else MEMOCALL_CACHE_MAX_BYTES, else 32 GiB; a negative or non-number cap is refused', () => {
    const dir = tempDir().dir;
    delete process.env[CACHE_MAX_BYTES_ENV];
    expect(new DownloadCache({ dir }).maxBytes).toBe(32 * 1024 ** 3);
    expect(new DownloadCache({ dir, maxBytes: 0 }).maxBytes).toBe(0);
    expect(new DownloadCache({ dir, maxBytes: Infinity }).maxBytes).toBe(Infinity);
    process.env[CACHE_MAX_BYTES_ENV] = '12345';
    expect(new DownloadCache({ dir }).maxBytes).toBe(12345);
    expect(new DownloadCache({ dir, maxBytes: 7 }).maxBytes).toBe(7);
    process.env[CACHE_MAX_BYTES_ENV] = 'lots';
    expect(() => new DownloadCache({ dir })).toThrow(ConfigurationError);
    expect(() => new DownloadCache({ dir })).toThrow('maxBytes must be a number of bytes >= 0, got lots');
    expect(() => new DownloadCache({ dir, maxBytes: -1 })).toThrow('maxBytes must be a number of bytes >= 0, got -1');
    expect(() => new DownloadCache({ dir, maxBytes: Number.NaN })).toThrow(/got NaN/);
    process.env[CACHE_MAX_BYTES_ENV] = '';
    expect(new DownloadCache({ dir }).maxBytes).toBe(32 * 1024 ** 3); // empty: unset
  });

  test('dir: the option, else MEMOCALL_CACHE_DIR, else ~/.cache/memocall; always absolute; empty is refused', () => {
    const { dir } = tempDir();
    process.env[CACHE_DIR_ENV] = path.join(dir, 'from-env');
    expect(new DownloadCache().dir).toBe(path.join(dir, 'from-env'));
    expect(new DownloadCache({ dir: path.join(dir, 'opt') }).dir).toBe(path.join(dir, 'opt'));
    expect(new DownloadCache({ dir: path.join(dir, 'opt') }).layout.root).toBe(path.join(dir, 'opt', 'v1'));
    expect(resolveCacheDir('relative/cache')).toBe(path.resolve('relative/cache'));
    delete process.env[CACHE_DIR_ENV];
    expect(resolveCacheDir()).toBe(path.join(os.homedir(), '.cache', 'memocall'));
    expect(() => resolveCacheDir('  ')).toThrow(ConfigurationError);
    process.env[CACHE_DIR_ENV] = '';
    expect(() => new DownloadCache()).toThrow(
      /download cache directory is empty \(MEMOCALL_CACHE_DIR or the dir option\)/,
    );
  });

  test('the layout puts each kind of record in its own folder, sharded by the first two hex digits', () => {
    const layout = new CacheLayout('/c');
    const h = 'ab'.repeat(32);
    expect(layout.content(h)).toBe(`/c/v1/content/sha256/ab/${h}`);
    expect(layout.usedMarker(h)).toBe(`/c/v1/content/sha256/ab/${h}.used`);
    const u = sha('s3://b/k');
    expect(layout.index('s3://b/k')).toBe(`/c/v1/index/${u.slice(0, 2)}/${u}.json`);
    const p = sha('/data/x');
    expect(layout.localHash('/data/x')).toBe(`/c/v1/local/${p.slice(0, 2)}/${p}.json`);
    expect(layout.lock({ sha256: h })).toBe(`/c/v1/locks/sha256-${h}.lock`);
    expect(layout.lock({ uri: 's3://b/k' })).toBe(`/c/v1/locks/uri-${u}.lock`);
    expect(layout.tmpRoot).toBe('/c/v1/tmp');
  });
});

describe('add: a local file copied into the cache', () => {
  test('becomes a read-only, stamped entry named by its SHA-256; the source is untouched', async () => {
    const { dir } = tempDir();
    const data = randomBytes(100_000);
    const source = writeFile(dir, 'src.bin', data);
    const cache = new DownloadCache({ dir: path.join(dir, 'cache') });
    const file = await cache.add(source);
    expect(file).toEqual({ path: cache.layout.content(sha(data)), sha256: sha(data), size: data.length });
    expect(fs.readFileSync(file.path).equals(data)).toBe(true);
    const st = fs.statSync(file.path);
    expect(st.mode & 0o222).toBe(0);
    expect(st.mtimeMs).toBe(FILL_STAMP_MS);
    expect(fs.existsSync(cache.layout.usedMarker(sha(data)))).toBe(true);
    expect(fs.statSync(source).mode & 0o200).toBe(0o200); // still writable
    expect(fs.existsSync(cache.layout.tmpRoot) ? fs.readdirSync(cache.layout.tmpRoot) : []).toEqual([]); // its temp folder is gone
    // The digest is remembered for the source's identity.
    expect(rememberedDigest(cache.layout, source)).toEqual({ sha256: sha(data), size: data.length });
    const record = JSON.parse(fs.readFileSync(cache.layout.localHash(source), 'utf8'));
    expect(record).toMatchObject({ path: source, sha256: sha(data), size: String(data.length) });
    expect(await cache.lookup(sha(data), data.length)).toEqual(file);
  });

  test('a file whose digest is remembered is not read again: the entry is found by that digest', async () => {
    const { dir } = tempDir();
    const cache = new DownloadCache({ dir: path.join(dir, 'cache') });
    const other = await cache.add(writeFile(dir, 'other', 'other content.')); // as long as the source
    const source = writeFile(dir, 'src', 'source content');
    await cache.add(source);
    // A record forged for the unchanged source proves `add` trusts it instead of copying.
    const recordFile = cache.layout.localHash(source);
    const record = JSON.parse(fs.readFileSync(recordFile, 'utf8'));
    const forgedLayout = new CacheLayout(path.join(dir, 'cache'));
    fs.writeFileSync(recordFile, JSON.stringify({ ...record, sha256: other.sha256 }));
    // `known` (per process) still has the true record; a fresh process reads the forged one.
    vi.resetModules();
    const fresh = await import('../../src/cache/download-cache.js');
    const again = await new fresh.DownloadCache({ dir: forgedLayout.dir }).add(source);
    expect(again.sha256).toBe(other.sha256);
  });

  test('the same content from two files is stored once', async () => {
    const { dir } = tempDir();
    const cache = new DownloadCache({ dir: path.join(dir, 'cache') });
    const a = await cache.add(writeFile(dir, 'a', 'same bytes'));
    const b = await cache.add(writeFile(dir, 'b', 'same bytes'));
    expect(b).toEqual(a);
    expect(listEntries(cache.layout).map((e) => e.sha256)).toEqual([sha('same bytes')]);
    expect(fs.readdirSync(cache.layout.tmpRoot)).toEqual([]);
  });

  test('a missing file fails with ENOENT and leaves no temp folder', async () => {
    const { dir } = tempDir();
    const cache = new DownloadCache({ dir: path.join(dir, 'cache') });
    await expect(cache.add(path.join(dir, 'missing'))).rejects.toThrow(/ENOENT/);
    expect(fs.existsSync(cache.layout.tmpRoot) ? fs.readdirSync(cache.layout.tmpRoot) : []).toEqual([]);
    expect(listEntries(cache.layout)).toEqual([]);
  });

  test('adding past the cap evicts the least recently used entries, never the one just added', async () => {
    const { dir } = tempDir();
    const cache = new DownloadCache({ dir: path.join(dir, 'cache'), maxBytes: 250 });
    const a = await cache.add(writeFile(dir, 'a', randomBytes(100)));
    const b = await cache.add(writeFile(dir, 'b', randomBytes(100)));
    fs.utimesSync(cache.layout.usedMarker(a.sha256), new Date(2_000_000), new Date(2_000_000));
    fs.utimesSync(cache.layout.usedMarker(b.sha256), new Date(1_000_000), new Date(1_000_000)); // b is older
    const c = await cache.add(writeFile(dir, 'c', randomBytes(100)));
    expect(new Set(listEntries(cache.layout).map((e) => e.sha256))).toEqual(new Set([a.sha256, c.sha256]));
    const big = await cache.add(writeFile(dir, 'big', randomBytes(400)));
    expect(listEntries(cache.layout).map((e) => e.sha256)).toEqual([big.sha256]);
    expect(fs.existsSync(big.path)).toBe(true);
  });

  test('an unlimited cache (maxBytes Infinity) evicts nothing', async () => {
    const { dir } = tempDir();
    const cache = new DownloadCache({ dir: path.join(dir, 'cache'), maxBytes: Infinity });
    for (const name of ['a', 'b', 'c']) await cache.add(writeFile(dir, name, randomBytes(1000)));
    expect(listEntries(cache.layout)).toHaveLength(3);
  });
});

describe('uploadFileThroughCache', () => {
  test('uploads the original and indexes the uploaded version, so the next fetch of the URI is a hit', async () => {
    const { dir } = tempDir();
    const { uploadFileThroughCache } = await import('../../src/cache/default-cache.js');
    const root = pathToFileURL(path.join(dir, 'store')).href;
    const cache = new DownloadCache({ dir: path.join(dir, 'cache') });
    const data = randomBytes(5000);
    const source = writeFile(dir, 'upload.bin', data);
    const uri = `${root}/up.bin`;
    expect(await uploadFileThroughCache(source, uri, cache)).toEqual({ sha256: sha(data), size: data.length });
    expect(Buffer.from(await lookupBlobStore(uri).get(uri)).equals(data)).toBe(true);
    const head = await lookupBlobStore(uri).head(uri);
    expect(readIndex(cache.layout, uri)).toMatchObject({ uri, etag: head!.etag, sha256: sha(data), size: data.length });
    const again = await cache.fetchWithOutcome(uri);
    expect(again.outcome).toBe('hit');
    expect(again.file.path).toBe(cache.layout.content(sha(data)));
    // The uploaded object is not read-only like the cache's copy.
    expect(fs.statSync(path.join(dir, 'store', 'up.bin')).mode & 0o200).toBe(0o200);
  });

  test('remember records URI + version → content; a different version is not served from it', async () => {
    const { dir } = tempDir();
    const root = pathToFileURL(path.join(dir, 'store')).href;
    const uri = `${root}/r`;
    await lookupBlobStore(uri).put(uri, new TextEncoder().encode('stored'));
    const cache = new DownloadCache({ dir: path.join(dir, 'cache') });
    const local = await cache.add(writeFile(dir, 'l', 'local'));
    cache.remember(uri, 'some-other-etag', local);
    expect(readIndex(cache.layout, uri)).toMatchObject({ uri, etag: 'some-other-etag', sha256: local.sha256 });
    const fetched = await cache.fetchWithOutcome(uri);
    expect(fetched.outcome).toBe('downloaded');
    expect(fs.readFileSync(fetched.file.path, 'utf8')).toBe('stored');
  });
});

describe('the default cache', () => {
  test('is made from MEMOCALL_CACHE_DIR on first use, kept, and replaced by configureDownloadCache', async () => {
    const { dir } = tempDir();
    process.env[CACHE_DIR_ENV] = path.join(dir, 'env-cache');
    vi.resetModules();
    const defaults = await import('../../src/cache/default-cache.js');
    const first = defaults.defaultDownloadCache();
    expect(first.dir).toBe(path.join(dir, 'env-cache'));
    expect(defaults.defaultDownloadCache()).toBe(first);
    const configured = defaults.configureDownloadCache({ dir: path.join(dir, 'configured'), maxBytes: 1000 });
    expect(configured.dir).toBe(path.join(dir, 'configured'));
    expect(configured.maxBytes).toBe(1000);
    expect(defaults.defaultDownloadCache()).toBe(configured);

    const root = pathToFileURL(path.join(dir, 'store')).href;
    const source = writeFile(dir, 'payload', 'through the default cache');
    await defaults.uploadThroughCache(source, `${root}/p`);
    const local = await defaults.downloadToCache(`${root}/p`);
    expect(local).toBe(configured.layout.content(sha('through the default cache')));
    expect(fs.readFileSync(local, 'utf8')).toBe('through the default cache');
    expect(fs.existsSync(path.join(dir, 'env-cache'))).toBe(false);
  });
});

describe('digests of local files', () => {
  test('hashes the file, remembers it under its absolute path, and answers from the record while unchanged', async () => {
    const { dir } = tempDir();
    const layout = new CacheLayout(path.join(dir, 'cache'));
    const file = writeFile(dir, 'd', 'digest me');
    const relative = path.relative(process.cwd(), file);
    expect(await digestOfLocalFile(layout, relative)).toEqual({ sha256: sha('digest me'), size: 9 });
    const record = JSON.parse(fs.readFileSync(layout.localHash(file), 'utf8'));
    const st = fs.statSync(file, { bigint: true });
    expect(record).toEqual({
      dev: String(st.dev),
      ino: String(st.ino),
      size: '9',
      mtimeNs: String(st.mtimeNs),
      ctimeNs: String(st.ctimeNs),
      path: file,
      sha256: sha('digest me'),
    });
    expect(stillHashesTo(file, sha('digest me'))).toBe(true);
    expect(stillHashesTo(relative, sha('digest me'))).toBe(true);
    expect(stillHashesTo(file, sha('something else'))).toBe(false);
    expect(stillHashesTo(path.join(dir, 'never-hashed'), sha('digest me'))).toBe(false);
    fs.writeFileSync(file, 'digest me, changed');
    expect(stillHashesTo(file, sha('digest me'))).toBe(false);
    expect(rememberedDigest(layout, file)).toBeUndefined();
    expect(await digestOfLocalFile(layout, file)).toEqual({ sha256: sha('digest me, changed'), size: 18 });
    fs.rmSync(file);
    expect(stillHashesTo(file, sha('digest me, changed'))).toBe(false);
    expect(rememberedDigest(layout, file)).toBeUndefined();
  });

  test('a persisted record is trusted only if it names the path, a valid SHA-256 and every part of the identity', async () => {
    const { dir } = tempDir();
    const layout = new CacheLayout(path.join(dir, 'cache'));
    const forged = 'f'.repeat(64);
    const identity = (file: string) => {
      const st = fs.statSync(file, { bigint: true });
      return {
        dev: String(st.dev),
        ino: String(st.ino),
        size: String(st.size),
        mtimeNs: String(st.mtimeNs),
        ctimeNs: String(st.ctimeNs),
        path: file,
        sha256: forged,
      };
    };
    const variants: Array<[string, (r: ReturnType<typeof identity>) => object, boolean]> = [
      ['exact', (r) => r, true],
      ['other path', (r) => ({ ...r, path: `${r.path}x` }), false],
      ['bad sha', (r) => ({ ...r, sha256: 'F'.repeat(64) }), false],
      ['no sha', (r) => ({ ...r, sha256: 42 }), false],
      ['dev', (r) => ({ ...r, dev: `${r.dev}1` }), false],
      ['ino', (r) => ({ ...r, ino: `${r.ino}1` }), false],
      ['size', (r) => ({ ...r, size: `${r.size}1` }), false],
      ['mtime', (r) => ({ ...r, mtimeNs: `${r.mtimeNs}1` }), false],
      ['ctime', (r) => ({ ...r, ctimeNs: `${r.ctimeNs}1` }), false],
    ];
    for (const [name, change, trusted] of variants) {
      const file = writeFile(dir, `v-${name.replace(' ', '-')}`, `content ${name}`);
      fs.mkdirSync(path.dirname(layout.localHash(file)), { recursive: true });
      fs.writeFileSync(layout.localHash(file), JSON.stringify(change(identity(file))));
      expect(rememberedDigest(layout, file)?.sha256, name).toBe(trusted ? forged : undefined);
      const digest = await digestOfLocalFile(layout, file);
      expect(digest.sha256, name).toBe(trusted ? forged : sha(`content ${name}`));
    }
    const torn = writeFile(dir, 'torn', 'torn record');
    fs.mkdirSync(path.dirname(layout.localHash(torn)), { recursive: true });
    fs.writeFileSync(layout.localHash(torn), '{"dev":');
    expect(rememberedDigest(layout, torn)).toBeUndefined();
    expect((await digestOfLocalFile(layout, torn)).sha256).toBe(sha('torn record'));
  });

  test('a cache directory that cannot be written does not fail the digest', async () => {
    const { dir } = tempDir();
    const blocker = writeFile(dir, 'not-a-dir', 'x');
    const layout = new CacheLayout(path.join(blocker, 'cache'));
    const file = writeFile(dir, 'f', 'still hashed');
    expect(await digestOfLocalFile(layout, file)).toEqual({ sha256: sha('still hashed'), size: 12 });
    // ...and remembered in this process all the same.
    expect(stillHashesTo(file, sha('still hashed'))).toBe(true);
    const cache = new DownloadCache({ dir: path.join(dir, 'c') });
    expect(await cache.digestOfLocalFile(file)).toEqual({ sha256: sha('still hashed'), size: 12 });
  });

  test('the digest is not remembered if the file changed while it was being copied', async () => {
    const { dir } = tempDir();
    const { rememberDigest } = await import('../../src/cache/local-file-digest.js');
    const layout = new CacheLayout(path.join(dir, 'cache'));
    const file = writeFile(dir, 'moving', 'before');
    const before = fs.statSync(file, { bigint: true });
    fs.writeFileSync(file, 'after!');
    rememberDigest(layout, file, before, { sha256: sha('before'), size: 6 });
    expect(fs.existsSync(layout.localHash(file))).toBe(false);
    expect(rememberedDigest(layout, file)).toBeUndefined();
    rememberDigest(layout, path.join(dir, 'gone'), before, { sha256: sha('before'), size: 6 });
    expect(fs.existsSync(layout.localHash(path.join(dir, 'gone')))).toBe(false);
    const now = fs.statSync(file, { bigint: true });
    rememberDigest(layout, file, now, { sha256: sha('after!'), size: 6 });
    expect(rememberedDigest(layout, file)).toEqual({ sha256: sha('after!'), size: 6 });
  });
});
