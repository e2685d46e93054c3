import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import '../../src/blobstore/builtin-stores.js';
import { lookupBlobStore } from '../../src/blobstore/registry.js';
import { DownloadCache } from '../../src/cache/download-cache.js';
import { listEntries, sweep } from '../../src/cache/eviction.js';
import { formatWriterTag, ownWriterTag, type WriterTag } from '../../src/blobstore/local/writer-identity.js';
import { writerOfPartialFill } from '../../src/cache/partial-fills.js';
import { finished, projectRoot, tsxLoader, waitForLine } from '../support/child.js';

/**
 * Issue 10, finding 15 (cache half): a killed fill leaves its partial copy in `v1/tmp/`. It is
 * removed as soon as its writer is provably dead (no waiting for `cache prune` and 24 h), and
 * while a fill is in progress its bytes count toward the size cap.
 */

const made: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const work = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'memocall-sec-partial-'));
  made.push(d);
  return d;
};

async function killedMidFill(cacheDir: string): Promise<string> {
  const child = spawn(
    process.execPath,
    ['--import', tsxLoader, path.join(projectRoot, 'test/security/cache-hanging-fill-child.ts'), cacheDir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  const done = finished(child);
  const line = await waitForLine(child, 'partial ', 60_000);
  child.kill('SIGKILL');
  await done;
  const partialDir = path.dirname(line.trim().slice('partial '.length));
  expect(path.dirname(partialDir)).toBe(path.join(cacheDir, 'v1', 'tmp'));
  return partialDir;
}

describe('partial fills of the download cache', () => {
  test('a fill killed mid-transfer leaves a partial that the next fill removes (its writer is dead)', async () => {
    const dir = work();
    const cacheDir = path.join(dir, 'cache');
    const partial = await killedMidFill(cacheDir);
    expect(fs.existsSync(partial)).toBe(true);
    expect(writerOfPartialFill(path.basename(partial))?.pid).toBeGreaterThan(0);

    const storeRoot = pathToFileURL(path.join(dir, 'store')).href;
    await lookupBlobStore(storeRoot).put(`${storeRoot}/small`, randomBytes(1000));
    const cache = new DownloadCache({ dir: cacheDir });
    await cache.fetch(`${storeRoot}/small`);
    expect(fs.existsSync(partial)).toBe(false);
    expect(fs.readdirSync(path.join(cacheDir, 'v1', 'tmp'))).toEqual([]);
  }, 90_000);

  test('the same with no cap (maxBytes Infinity), and through `cache prune` (sweep)', async () => {
    const dir = work();
    const cacheDir = path.join(dir, 'cache');
    const first = await killedMidFill(cacheDir);
    const storeRoot = pathToFileURL(path.join(dir, 'store')).href;
    await lookupBlobStore(storeRoot).put(`${storeRoot}/small`, randomBytes(1000));
    await new DownloadCache({ dir: cacheDir, maxBytes: Infinity }).fetch(`${storeRoot}/small`);
    expect(fs.existsSync(first)).toBe(false);

    const second = await killedMidFill(cacheDir);
    const report = sweep(new DownloadCache({ dir: cacheDir }).layout);
    expect(report.tempDirs).toBe(1);
    expect(fs.existsSync(second)).toBe(false);
  }, 120_000);

  test("a live writer's partial is kept, even by a prune; one idle for over a day is not", async () => {
    const dir = work();
    const cache = new DownloadCache({ dir: path.join(dir, 'cache') });
    cache.prepare();
    const live = plantPartial(cache, 50_000);
    const idle = plantPartial(cache, 50_000, { ...ownWriterTag(), host: '0badc0de', pid: 2 ** 22 + 7 });
    const twoDaysAgo = (Date.now() - 2 * 24 * 3600_000) / 1000;
    for (const f of fs.readdirSync(idle)) fs.utimesSync(path.join(idle, f), twoDaysAgo, twoDaysAgo);
    fs.utimesSync(idle, twoDaysAgo, twoDaysAgo);
    sweep(cache.layout);
    expect(fs.existsSync(live)).toBe(true);
    expect(fs.existsSync(idle)).toBe(false);
  });

  test('bytes of fills in progress count toward the size cap', async () => {
    const dir = work();
    const storeRoot = pathToFileURL(path.join(dir, 'store')).href;
    const store = lookupBlobStore(storeRoot);
    const cache = new DownloadCache({ dir: path.join(dir, 'cache'), maxBytes: 350_000 });
    await store.put(`${storeRoot}/a`, randomBytes(100_000));
    await store.put(`${storeRoot}/b`, randomBytes(100_000));
    const a = await cache.fetch(`${storeRoot}/a`);
    // Another fill of this process (alive) is 200 kB into its transfer.
    const live = plantPartial(cache, 200_000);
    const b = await cache.fetch(`${storeRoot}/b`);
    // 100 kB (a) + 100 kB (b) + 200 kB in progress > 350 kB: the least recently used entry goes.
    expect(listEntries(cache.layout).map((e) => e.sha256)).toEqual([b.sha256]);
    expect(fs.existsSync(a.path)).toBe(false);
    expect(fs.existsSync(live)).toBe(true); // a live fill is never removed to make room
  });
});

/** A fill folder as a fill makes it, with `bytes` arrived, written by `writer` (default: this process). */
function plantPartial(cache: DownloadCache, bytes: number, writer: WriterTag = ownWriterTag()): string {
  fs.mkdirSync(cache.layout.tmpRoot, { recursive: true, mode: 0o700 });
  const dir = fs.mkdtempSync(path.join(cache.layout.tmpRoot, `${formatWriterTag(writer)}-`));
  fs.writeFileSync(path.join(dir, 'data'), randomBytes(bytes));
  return dir;
}
