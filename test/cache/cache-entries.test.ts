// Content entries on disk: lookup and the re-check of a modified entry, LRU eviction and its cap,
// `sweep` (prune's housekeeping), `verifyCache`, and index records that cannot be trusted.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { FILL_STAMP_MS } from '../../src/cache/cache-layout.js';
import { DownloadCache } from '../../src/cache/download-cache.js';
import { enforceCap, listEntries, sweep } from '../../src/cache/eviction.js';
import { allIndexRecords, readIndex, writeIndex } from '../../src/cache/uri-index.js';
import { verifyCache } from '../../src/cache/verify.js';
import { useTempDir } from '../support/temp-dir.js';

const tempDir = useTempDir();
const sha = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

async function cacheWith(...contents: Array<string | Uint8Array>) {
  const { dir } = tempDir();
  const cache = new DownloadCache({ dir: path.join(dir, 'cache'), maxBytes: Infinity });
  const files = [];
  for (const [i, c] of contents.entries()) {
    const src = path.join(dir, `src-${i}`);
    fs.writeFileSync(src, c);
    files.push(await cache.add(src));
  }
  return { dir, cache, layout: cache.layout, files };
}

function setLastUse(markerOrFile: string, ms: number): void {
  fs.utimesSync(markerOrFile, new Date(ms), new Date(ms));
}

/** Collects the process warnings emitted while `run` runs. */
async function warningsDuring<T>(run: () => Promise<T>): Promise<{ value: T; codes: string[] }> {
  const codes: string[] = [];
  const listener = (w: Error & { code?: string }) => codes.push(w.code ?? '');
  process.on('warning', listener);
  try {
    const value = await run();
    await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    return { value, codes };
  } finally {
    process.off('warning', listener);
  }
}

describe('lookup', () => {
  test('finds an intact entry by content (and size), marks it used, and refuses malformed hashes', async () => {
    const { cache, layout, files } = await cacheWith('hello');
    const [file] = files;
    setLastUse(layout.usedMarker(file!.sha256), 1_000_000);
    expect(await cache.lookup(file!.sha256)).toEqual(file);
    expect(fs.statSync(layout.usedMarker(file!.sha256)).mtimeMs).toBeGreaterThan(1_000_000);
    expect(await cache.lookup(file!.sha256, 5)).toEqual(file);
    // An intact entry of another size than asked: the expectation is wrong; the entry stays.
    expect(await cache.lookup(file!.sha256, 6)).toBeUndefined();
    expect(fs.existsSync(file!.path)).toBe(true);
    expect(await cache.lookup(file!.sha256.toUpperCase())).toBeUndefined();
    expect(await cache.lookup(file!.sha256.slice(1))).toBeUndefined();
    expect(await cache.lookup('../../etc/passwd')).toBeUndefined();
    expect(await cache.lookup(sha('not there'))).toBeUndefined();
  });

  test('a lost used-marker is recreated at the next use', async () => {
    const { cache, layout, files } = await cacheWith('marker');
    fs.rmSync(layout.usedMarker(files[0]!.sha256));
    expect(await cache.lookup(files[0]!.sha256)).toEqual(files[0]);
    expect(fs.existsSync(layout.usedMarker(files[0]!.sha256))).toBe(true);
  });

  test('a broken tree (a file where a shard folder should be) is a miss, not an error', async () => {
    const { dir } = tempDir();
    const cache = new DownloadCache({ dir: path.join(dir, 'cache') });
    const h = sha('x');
    fs.mkdirSync(cache.layout.contentRoot, { recursive: true });
    fs.writeFileSync(path.join(cache.layout.contentRoot, h.slice(0, 2)), 'not a folder');
    expect(await cache.lookup(h)).toBeUndefined();
    // A folder where the content file should be is not an entry either.
    const g = sha('y');
    fs.mkdirSync(cache.layout.content(g), { recursive: true });
    expect(await cache.lookup(g)).toBeUndefined();
  });

  test('an entry made writable but still holding its bytes is re-hashed, kept and sealed again, without a warning', async () => {
    const { cache, files } = await cacheWith('kept');
    const file = files[0]!;
    fs.chmodSync(file.path, 0o644);
    const { value, codes } = await warningsDuring(() => cache.lookup(file.sha256, 4));
    expect(value).toEqual(file);
    expect(codes).not.toContain('MEMOCALL_CACHE_CORRUPT');
    const st = fs.statSync(file.path);
    expect(st.mode & 0o222).toBe(0);
    expect(st.mtimeMs).toBe(FILL_STAMP_MS);
  });

  test('an entry re-stamped by a write (same mode) is re-hashed too', async () => {
    const { cache, files } = await cacheWith('touched');
    const file = files[0]!;
    setLastUse(file.path, Date.now()); // the mtime a write would leave
    expect(await cache.lookup(file.sha256)).toEqual(file);
    expect(fs.statSync(file.path).mtimeMs).toBe(FILL_STAMP_MS);
  });

  test('a modified entry is removed with a MEMOCALL_CACHE_CORRUPT warning', async () => {
    const { cache, layout, files } = await cacheWith('original bytes');
    const file = files[0]!;
    fs.chmodSync(file.path, 0o644);
    fs.writeFileSync(file.path, 'tampered bytes');
    const { value, codes } = await warningsDuring(() => cache.lookup(file.sha256));
    expect(value).toBeUndefined();
    expect(codes).toContain('MEMOCALL_CACHE_CORRUPT');
    expect(fs.existsSync(file.path)).toBe(false);
    expect(fs.existsSync(layout.usedMarker(file.sha256))).toBe(false);
  });

  test('a modified entry with the right bytes but looked up with another size is removed', async () => {
    const { cache, files } = await cacheWith('sized');
    const file = files[0]!;
    fs.chmodSync(file.path, 0o644);
    const { value, codes } = await warningsDuring(() => cache.lookup(file.sha256, 999));
    expect(value).toBeUndefined();
    expect(codes).toContain('MEMOCALL_CACHE_CORRUPT');
    expect(fs.existsSync(file.path)).toBe(false);
  });
});

describe('eviction', () => {
  test('lists entries with their size and last use (the marker, else the content ctime), skipping foreign files', async () => {
    const { layout, files } = await cacheWith('aaaa', 'bb');
    setLastUse(layout.usedMarker(files[0]!.sha256), 5_000_000);
    fs.rmSync(layout.usedMarker(files[1]!.sha256));
    fs.writeFileSync(path.join(path.dirname(files[0]!.path), 'README'), 'not an entry');
    fs.mkdirSync(path.join(layout.contentRoot, 'zz', 'f'.repeat(64)), { recursive: true }); // a folder, not a file
    const entries = listEntries(layout).sort((a, b) => a.size - b.size);
    expect(entries.map((e) => [e.sha256, e.size, e.path])).toEqual([
      [files[1]!.sha256, 2, files[1]!.path],
      [files[0]!.sha256, 4, files[0]!.path],
    ]);
    expect(entries[1]!.lastUsed.getTime()).toBe(5_000_000);
    expect(entries[0]!.lastUsed.getTime()).toBe(fs.statSync(files[1]!.path).ctime.getTime());
  });

  test('removes least recently used entries first, only until the content fits, never a kept one', async () => {
    const { layout, files } = await cacheWith(randomBytes(100), randomBytes(100), randomBytes(100), randomBytes(100));
    const [a, b, c, d] = files.map((f) => f.sha256);
    // Last use: c oldest, then a, then d, then b.
    setLastUse(layout.usedMarker(c!), 1_000_000);
    setLastUse(layout.usedMarker(a!), 2_000_000);
    setLastUse(layout.usedMarker(d!), 3_000_000);
    setLastUse(layout.usedMarker(b!), 4_000_000);
    const report = enforceCap(layout, 200, new Set([a!]));
    expect(report.bytesBefore).toBe(400);
    expect(report.bytesAfter).toBe(200);
    expect(report.removed.map((e) => e.sha256)).toEqual([c, d]); // a is kept, b is the most recent
    expect(new Set(listEntries(layout).map((e) => e.sha256))).toEqual(new Set([a, b]));
    expect(fs.existsSync(layout.usedMarker(c!))).toBe(false);
  });

  test('content exactly at the cap is left alone; one byte over removes one entry', async () => {
    const { layout, files } = await cacheWith(randomBytes(100), randomBytes(100));
    setLastUse(layout.usedMarker(files[0]!.sha256), 1_000_000);
    setLastUse(layout.usedMarker(files[1]!.sha256), 2_000_000);
    expect(enforceCap(layout, 200)).toEqual({
      bytesBefore: 200,
      bytesAfter: 200,
      removed: [],
      partialBytes: 0,
      abandonedFills: 0,
    });
    const report = enforceCap(layout, 199);
    expect(report.removed.map((e) => e.sha256)).toEqual([files[0]!.sha256]);
    expect(report.bytesAfter).toBe(100);
    expect(enforceCap(layout, 0, new Set([files[1]!.sha256])).removed).toEqual([]);
  });

  test('a fill past the cap evicts older entries but keeps the entry just filled, even alone over the cap', async () => {
    const { cache, layout } = await cacheWith(randomBytes(300), randomBytes(300));
    const root = `memory://evict-${process.pid}-${Date.now()}`;
    const { lookupBlobStore } = await import('../../src/blobstore/registry.js');
    await import('../../src/blobstore/builtin-stores.js');
    const data = randomBytes(500);
    await lookupBlobStore(root).put(`${root}/big`, data);
    const capped = new DownloadCache({ dir: cache.dir, maxBytes: 400 });
    const filled = await capped.fetch(`${root}/big`);
    expect(listEntries(layout).map((e) => e.sha256)).toEqual([sha(data)]);
    expect(filled.sha256).toBe(sha(data));
  });
});

describe('sweep', () => {
  test('removes index records whose content is gone, orphan markers and old temp folders, and counts them', async () => {
    const { layout, files } = await cacheWith('kept content', 'gone content');
    const [kept, gone] = files;
    writeIndex(layout, { uri: 'memory://b/kept', etag: 'e1', sha256: kept!.sha256, size: kept!.size });
    writeIndex(layout, { uri: 'memory://b/gone', etag: 'e2', sha256: gone!.sha256, size: gone!.size });
    fs.chmodSync(gone!.path, 0o644);
    fs.rmSync(gone!.path); // its marker stays behind
    fs.mkdirSync(layout.tmpRoot, { recursive: true });
    const oldTmp = path.join(layout.tmpRoot, 'old');
    const newTmp = path.join(layout.tmpRoot, 'new');
    fs.mkdirSync(oldTmp);
    fs.writeFileSync(path.join(oldTmp, 'data'), 'partial');
    fs.mkdirSync(newTmp);
    const twoHoursAgo = Date.now() - 2 * 3600_000;
    // A partial fill is idle since its newest write: the folder and what it holds.
    setLastUse(path.join(oldTmp, 'data'), twoHoursAgo);
    setLastUse(oldTmp, twoHoursAgo);
    expect(sweep(layout, 3600_000)).toEqual({ indexRecords: 1, tempDirs: 1, locks: 0 });
    expect(readIndex(layout, 'memory://b/kept')).toBeDefined();
    expect(readIndex(layout, 'memory://b/gone')).toBeUndefined();
    expect(fs.existsSync(layout.usedMarker(gone!.sha256))).toBe(false);
    expect(fs.existsSync(layout.usedMarker(kept!.sha256))).toBe(true);
    expect(fs.existsSync(oldTmp)).toBe(false);
    expect(fs.existsSync(newTmp)).toBe(true);
    // The default age is a day: a two-hour-old temp folder may still be a download in progress.
    setLastUse(newTmp, twoHoursAgo);
    expect(sweep(layout)).toEqual({ indexRecords: 0, tempDirs: 0, locks: 0 });
    setLastUse(newTmp, Date.now() - 25 * 3600_000);
    expect(sweep(layout)).toEqual({ indexRecords: 0, tempDirs: 1, locks: 0 });
  });

  test('an empty or missing cache has nothing to sweep', () => {
    const { dir } = tempDir();
    const cache = new DownloadCache({ dir: path.join(dir, 'nothing') });
    expect(sweep(cache.layout)).toEqual({ indexRecords: 0, tempDirs: 0, locks: 0 });
    expect(listEntries(cache.layout)).toEqual([]);
  });
});

describe('index records', () => {
  test('a record is used only if it names the URI and has an etag, a SHA-256 and a size', async () => {
    const { layout, files } = await cacheWith('indexed');
    const uri = 'memory://b/indexed';
    const good = { uri, etag: 'e', sha256: files[0]!.sha256, size: files[0]!.size };
    writeIndex(layout, good);
    const record = readIndex(layout, uri);
    expect(record).toMatchObject(good);
    expect(Number.isNaN(Date.parse(record!.indexedAt))).toBe(false);
    const bad: Array<[string, unknown]> = [
      ['other uri', { ...good, uri: 'memory://b/other' }],
      ['no etag', { ...good, etag: 7 }],
      ['no sha', { ...good, sha256: undefined }],
      ['bad sha', { ...good, sha256: 'zz' }],
      ['size as text', { ...good, size: '7' }],
    ];
    for (const [name, value] of bad) {
      fs.writeFileSync(layout.index(uri), JSON.stringify(value));
      expect(readIndex(layout, uri), name).toBeUndefined();
    }
    fs.writeFileSync(layout.index(uri), '{"uri":');
    expect(readIndex(layout, uri)).toBeUndefined();
    expect(readIndex(layout, 'memory://b/never')).toBeUndefined();
  });

  test('allIndexRecords lists the records and skips torn or foreign files', async () => {
    const { layout, files } = await cacheWith('listed');
    writeIndex(layout, { uri: 'memory://b/one', etag: 'e', sha256: files[0]!.sha256, size: 6 });
    const dir = path.dirname(layout.index('memory://b/one'));
    fs.writeFileSync(path.join(dir, 'torn.json'), '{');
    fs.writeFileSync(path.join(dir, 'foreign.json'), '{"uri": 1}');
    fs.writeFileSync(path.join(dir, 'notes.txt'), '{"uri":"memory://b/txt","sha256":"x"}');
    expect([...allIndexRecords(layout)].map((r) => r.record.uri)).toEqual(['memory://b/one']);
  });
});

describe('verifyCache', () => {
  test('re-hashes every entry: intact ones stay, modified or writable ones are removed with the reason', async () => {
    const { layout, files } = await cacheWith('good', 'rotten', 'writable');
    const [good, rotten, writable] = files;
    // Bit rot that kept the metadata: same mode and stamp, other bytes.
    fs.chmodSync(rotten!.path, 0o644);
    fs.writeFileSync(rotten!.path, 'ROTTEN');
    fs.chmodSync(rotten!.path, 0o444);
    setLastUse(rotten!.path, FILL_STAMP_MS);
    fs.chmodSync(writable!.path, 0o644);
    const seen: Array<[string, boolean]> = [];
    const report = await verifyCache(layout, (entry, ok) => seen.push([entry.sha256, ok]));
    expect(report.checked).toBe(3);
    expect(report.bytes).toBe(4 + 6 + 8);
    const reasons = Object.fromEntries(report.removed.map((r) => [r.sha256, r.reason]));
    expect(reasons).toEqual({
      [rotten!.sha256]: `content hashes to ${sha('ROTTEN')}`,
      [writable!.sha256]: 'writable or re-stamped (modified in place?)',
    });
    expect(new Map(seen)).toEqual(
      new Map([
        [good!.sha256, true],
        [rotten!.sha256, false],
        [writable!.sha256, false],
      ]),
    );
    expect(listEntries(layout).map((e) => e.sha256)).toEqual([good!.sha256]);
  });
});
