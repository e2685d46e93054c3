import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { lookupBlobStore } from '../../src/blobstore/registry.js';
import '../../src/blobstore/builtin-stores.js';
import { CacheLayout } from '../../src/cache/cache-layout.js';
import { DownloadCache } from '../../src/cache/download-cache.js';
import { listEntries } from '../../src/cache/eviction.js';
import { copyAndHash } from '../../src/cache/copy-and-hash.js';
import { sha256OfFile } from '../../src/core/sha256-file.js';
import { withFillLock } from '../../src/cache/fill-lock.js';
import { formatWriterTag, ownWriterTag } from '../../src/blobstore/local/writer-identity.js';
import { digestOfLocalFile } from '../../src/cache/local-file-digest.js';
import { renderProgressLine, startProgress } from '../../src/cache/progress.js';
import { cacheCommand, parseByteCount } from '../../src/cli/cache-command.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'memocall-cache-unit-'));
  made.push(d);
  return d;
};
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('hashing local files', () => {
  test('matches node:crypto and @noble/hashes for sizes around the chunk boundaries', async () => {
    const dir = tmp();
    for (const size of [0, 1, 1024 * 1024 - 1, 1024 * 1024, 1024 * 1024 + 1, 3 * 1024 * 1024 + 7]) {
      const data = randomBytes(size);
      const file = path.join(dir, `f${size}`);
      fs.writeFileSync(file, data);
      const expected = createHash('sha256').update(data).digest('hex');
      expect(await sha256OfFile(file)).toEqual({ sha256: expected, size });
      expect(hex(nobleSha256(data))).toBe(expected);
      const copy = path.join(dir, `c${size}`);
      expect(await copyAndHash(file, copy)).toEqual({ sha256: expected, size });
      expect(Buffer.compare(fs.readFileSync(copy), data)).toBe(0); // (toEqual on MiBs is very slow)
    }
  });

  test('copyAndHash leaves nothing behind when it fails', async () => {
    const dir = tmp();
    const copy = path.join(dir, 'copy');
    await expect(copyAndHash(path.join(dir, 'missing'), copy)).rejects.toThrow();
    fs.writeFileSync(copy, 'already here');
    fs.writeFileSync(path.join(dir, 'src'), 'x');
    await expect(copyAndHash(path.join(dir, 'src'), copy)).rejects.toThrow(/EEXIST/);
    expect(fs.readFileSync(copy, 'utf8')).toBe('already here');
  });

  test('a file hashed once is not hashed again while unchanged, across processes (persisted)', async () => {
    const dir = tmp();
    const layout = new CacheLayout(path.join(dir, 'cache'));
    const file = path.join(dir, 'data');
    fs.writeFileSync(file, 'first');
    const first = await digestOfLocalFile(layout, file);
    expect(fs.existsSync(layout.localHash(file))).toBe(true);
    // A forged record proves the second call trusted it instead of hashing.
    const record = JSON.parse(fs.readFileSync(layout.localHash(file), 'utf8'));
    expect(record.sha256).toBe(first.sha256);
    fs.writeFileSync(file, 'second, longer');
    expect((await digestOfLocalFile(layout, file)).sha256).toBe(
      createHash('sha256').update('second, longer').digest('hex'),
    );
  });
});

describe('fill lock', () => {
  test('a lock left by a dead process is broken at once', async () => {
    const dir = tmp();
    const lock = path.join(dir, 'x.lock');
    fs.writeFileSync(
      lock,
      JSON.stringify({ writer: formatWriterTag({ ...ownWriterTag(), pid: 2 ** 22 + 12345 }), pid: 2 ** 22 + 12345 }),
    );
    const started = Date.now();
    const value = await withFillLock(
      lock,
      async () => undefined,
      async () => 'filled',
      { staleMs: 60_000 },
    );
    expect(value).toBe('filled');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(fs.existsSync(lock)).toBe(false);
  });

  test("waiters get the filler's result without filling themselves", async () => {
    const dir = tmp();
    const lock = path.join(dir, 'y.lock');
    let fills = 0;
    let done: string | undefined;
    const fill = async () => {
      fills++;
      await new Promise((r) => setTimeout(r, 100));
      done = 'value';
      return done;
    };
    const results = await Promise.all(Array.from({ length: 5 }, () => withFillLock(lock, async () => done, fill)));
    expect(results).toEqual(Array(5).fill('value'));
    expect(fills).toBe(1);
  });
});

describe('progress', () => {
  test('renders bytes, rate and ETA, fitted to the terminal width', () => {
    const line = renderProgressLine(
      '⇣ s3://bucket/some/very/long/key/name.parquet',
      512 * 1024 ** 2,
      1024 ** 3,
      5_000,
      100,
    );
    expect(line).toMatch(/512\.0 MiB \/ 1\.0 GiB/);
    expect(line).toMatch(/102\.4 MiB\/s/);
    expect(line).toMatch(/ETA 5s/);
    expect(line.length).toBeLessThanOrEqual(100);
  });

  test('draws on a TTY only after the delay, and clears its line when done', async () => {
    const out = Object.assign(new PassThrough(), { isTTY: true, columns: 120 }) as unknown as NodeJS.WriteStream;
    let written = '';
    (out as unknown as PassThrough).on('data', (d: Buffer) => (written += d.toString()));
    const quick = startProgress('⇣ quick', 100, { stream: out, delayMs: 10_000, intervalMs: 10 });
    quick.update(100);
    await new Promise((r) => setTimeout(r, 50));
    quick.stop();
    expect(written).toBe(''); // short transfers stay quiet
    const slow = startProgress('⇣ slow', 1000, { stream: out, delayMs: 0, intervalMs: 10 });
    slow.update(250);
    await new Promise((r) => setTimeout(r, 60));
    slow.stop();
    expect(written).toMatch(/⇣ slow .*\[█████░+\].*250 B \/ 1000 B/);
    expect(written.endsWith('\r\x1b[K')).toBe(true);
  });

  test('stays quiet when the stream is not a terminal', async () => {
    const out = Object.assign(new PassThrough(), { isTTY: false }) as unknown as NodeJS.WriteStream;
    let written = '';
    (out as unknown as PassThrough).on('data', (d: Buffer) => (written += d.toString()));
    const p = startProgress('⇣ piped', 10, { stream: out, delayMs: 0, intervalMs: 5 });
    await new Promise((r) => setTimeout(r, 30));
    p.stop();
    expect(written).toBe('');
  });
});

describe('memocall cache ls | verify | prune', () => {
  test('lists, verifies and prunes the cache named by MEMOCALL_CACHE_DIR', async () => {
    const dir = tmp();
    const storeRoot = pathToFileURL(path.join(dir, 'store')).href;
    const cacheDir = path.join(dir, 'cache');
    const cache = new DownloadCache({ dir: cacheDir });
    const store = lookupBlobStore(storeRoot);
    const files = [];
    for (const name of ['a', 'b', 'c']) {
      await store.put(`${storeRoot}/${name}`, randomBytes(10_000));
      files.push(await cache.fetch(`${storeRoot}/${name}`));
      await new Promise((r) => setTimeout(r, 20));
    }
    const previous = process.env.MEMOCALL_CACHE_DIR;
    process.env.MEMOCALL_CACHE_DIR = cacheDir;
    const { configureDownloadCache } = await import('../../src/cache/default-cache.js');
    configureDownloadCache({});
    try {
      const run = async (...args: string[]) => {
        let out = '';
        const sink = new PassThrough();
        sink.on('data', (d: Buffer) => (out += d.toString()));
        const code = await cacheCommand(args, sink, sink);
        return { code, out };
      };
      const ls = await run('ls');
      expect(ls.code).toBe(0);
      for (const f of files) expect(ls.out).toContain(f.sha256);
      expect(ls.out).toContain(`${storeRoot}/a`);
      expect(ls.out).toMatch(/3 entries/);

      expect((await run('verify')).out).toMatch(/verified 3 entries .*: 0 corrupted/);
      fs.chmodSync(files[1]!.path, 0o644);
      fs.appendFileSync(files[1]!.path, 'x');
      const verify = await run('verify');
      expect(verify.code).toBe(3);
      expect(verify.out).toContain(`removed ${files[1]!.sha256}`);

      const prune = await run('prune', '--max-bytes', '12K');
      expect(prune.code).toBe(0);
      expect(prune.out).toMatch(/removed 1 entries/);
      expect(listEntries(new CacheLayout(cacheDir)).map((e) => e.sha256)).toEqual([files[2]!.sha256]); // the most recent stays

      expect((await run('prune', '--max-bytes', 'lots')).code).toBe(2);
      expect((await run('frobnicate')).code).toBe(2);
    } finally {
      if (previous === undefined) delete process.env.MEMOCALL_CACHE_DIR;
      else process.env.MEMOCALL_CACHE_DIR = previous;
      configureDownloadCache({});
    }
  });

  test('byte counts take K/M/G/T suffixes', () => {
    expect(parseByteCount('1000')).toBe(1000);
    expect(parseByteCount('512M')).toBe(512 * 1024 ** 2);
    expect(parseByteCount('1.5GiB')).toBe(1.5 * 1024 ** 3);
    expect(() => parseByteCount('-1')).toThrow();
  });
});
