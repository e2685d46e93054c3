import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { BlobStore } from '../../src/blobstore/blob-store.js';
import { FILL_STAMP_MS } from '../../src/cache/cache-layout.js';
import { DownloadCache } from '../../src/cache/download-cache.js';
import { listEntries } from '../../src/cache/eviction.js';
import { verifyCache } from '../../src/cache/verify.js';
import { CacheIntegrityError } from '../../src/cache/errors.js';
import { spawn } from 'node:child_process';
import { finished, projectRoot, tsxLoader, waitForLine } from '../support/child.js';

export interface CacheStoreSetup {
  /** A root URI this suite may fill. */
  root: string;
  store: BlobStore;
  /** Environment for child processes so they reach the same store (cloud endpoints...). */
  childEnv?: Record<string, string>;
  teardown?: () => Promise<void>;
}

export interface CacheSuiteOptions {
  /** The store is reachable from other processes (not memory://). */
  crossProcess: boolean;
}

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** The download cache's behaviour in front of one blob store. */
export function describeDownloadCache(
  name: string,
  setup: () => Promise<CacheStoreSetup>,
  options: CacheSuiteOptions,
): void {
  describe(`download cache in front of ${name}`, () => {
    let s: CacheStoreSetup;
    let work: string;
    let n = 0;
    const freshDir = () => path.join(work, `cache-${n++}`);
    const put = async (label: string, data: Uint8Array) => {
      const uri = `${s.root}/${label}-${randomBytes(4).toString('hex')}`;
      await s.store.put(uri, data);
      return uri;
    };

    beforeAll(async () => {
      s = await setup();
      work = fs.mkdtempSync(path.join(os.tmpdir(), 'memocall-cache-test-'));
    });
    afterAll(async () => {
      // Entries are read-only files in read-only-free dirs: rm -rf works as the owner.
      fs.rmSync(work, { recursive: true, force: true });
      await s.teardown?.();
    });

    test('a fetch fills a verified, read-only entry; the next one is a hit by URI and version', async () => {
      const cache = new DownloadCache({ dir: freshDir() });
      const data = randomBytes(300_000);
      const uri = await put('obj', data);
      const first = await cache.fetchWithOutcome(uri);
      expect(first.outcome).toBe('downloaded');
      expect(first.file.sha256).toBe(sha(data));
      expect(first.file.size).toBe(data.byteLength);
      expect(Buffer.compare(fs.readFileSync(first.file.path), data)).toBe(0);
      const st = fs.statSync(first.file.path);
      expect(st.mode & 0o222).toBe(0); // read-only
      expect(st.mtimeMs).toBe(FILL_STAMP_MS);
      const again = await cache.fetchWithOutcome(uri);
      expect(again).toEqual({ outcome: 'hit', file: first.file });
      // Known content is found without asking the store at all.
      expect((await cache.fetchWithOutcome(`${s.root}/does-not-exist`, { sha256: sha(data) })).outcome).toBe('hit');
    });

    test('a rewritten object (new version) is fetched again', async () => {
      const cache = new DownloadCache({ dir: freshDir() });
      const uri = await put('rewritten', new TextEncoder().encode('version one'));
      expect(fs.readFileSync((await cache.fetch(uri)).path, 'utf8')).toBe('version one');
      await s.store.put(uri, new TextEncoder().encode('version two!'));
      const second = await cache.fetchWithOutcome(uri);
      expect(second.outcome).toBe('downloaded');
      expect(fs.readFileSync(second.file.path, 'utf8')).toBe('version two!');
    });

    test('content that does not match the expected hash is refused, and nothing is cached', async () => {
      const dir = freshDir();
      const cache = new DownloadCache({ dir });
      const uri = await put('wrong', new TextEncoder().encode('actual bytes'));
      const expected = sha(new TextEncoder().encode('other bytes'));
      await expect(cache.fetch(uri, { sha256: expected })).rejects.toBeInstanceOf(CacheIntegrityError);
      expect(listEntries(cache.layout)).toEqual([]);
      expect(fs.readdirSync(cache.layout.tmpRoot)).toEqual([]); // no partial download left behind
    });

    test('a corrupted entry is detected at its next use and fetched again', async () => {
      const cache = new DownloadCache({ dir: freshDir() });
      const data = randomBytes(200_000);
      const uri = await put('corrupt', data);
      const { path: p } = await cache.fetch(uri);
      // Someone makes the entry writable and flips bytes in place.
      fs.chmodSync(p, 0o644);
      const fd = fs.openSync(p, 'r+');
      fs.writeSync(fd, Buffer.from('garbage'), 0, 7, 1000);
      fs.closeSync(fd);
      const warned: string[] = [];
      const onWarning = (w: Error & { code?: string }) => warned.push(w.code ?? '');
      process.on('warning', onWarning);
      try {
        const again = await cache.fetchWithOutcome(uri);
        await new Promise((r) => setImmediate(r));
        expect(again.outcome).toBe('downloaded');
        expect(sha(fs.readFileSync(again.file.path))).toBe(sha(data));
        expect(fs.statSync(again.file.path).mode & 0o222).toBe(0);
      } finally {
        process.off('warning', onWarning);
      }
      expect(warned).toContain('MEMOCALL_CACHE_CORRUPT');
    });

    test('verify finds corruption that kept the metadata, and removes it', async () => {
      const cache = new DownloadCache({ dir: freshDir() });
      const good = await cache.fetch(await put('good', randomBytes(50_000)));
      const bad = await cache.fetch(await put('bad', randomBytes(50_000)));
      // Bit rot: bytes change, mode and mtime are put back as they were.
      fs.chmodSync(bad.path, 0o644);
      const fd = fs.openSync(bad.path, 'r+');
      fs.writeSync(fd, Buffer.from([0xff ^ fs.readFileSync(bad.path)[10]!]), 0, 1, 10);
      fs.closeSync(fd);
      fs.chmodSync(bad.path, 0o444);
      fs.utimesSync(bad.path, FILL_STAMP_MS / 1000, FILL_STAMP_MS / 1000);
      const report = await verifyCache(cache.layout);
      expect(report.checked).toBe(2);
      expect(report.removed.map((r) => r.sha256)).toEqual([bad.sha256]);
      expect(fs.existsSync(good.path)).toBe(true);
      expect(fs.existsSync(bad.path)).toBe(false);
    });

    test('eviction keeps the cache under its cap, least recently used first', async () => {
      const cap = 250_000;
      const cache = new DownloadCache({ dir: freshDir(), maxBytes: cap });
      const uris: string[] = [];
      for (let i = 0; i < 6; i++) uris.push(await put(`evict${i}`, randomBytes(100_000)));
      const first = await cache.fetch(uris[0]!);
      for (let i = 1; i < 6; i++) {
        await cache.fetch(uris[i]!);
        // keep the first one in use: it must survive
        await new Promise((r) => setTimeout(r, 15));
        await cache.lookup(first.sha256);
        const total = listEntries(cache.layout).reduce((t, e) => t + e.size, 0);
        expect(total).toBeLessThanOrEqual(cap);
      }
      const left = listEntries(cache.layout).map((e) => e.sha256);
      expect(left).toHaveLength(2);
      expect(left).toContain(first.sha256);
      // An evicted entry is simply fetched again.
      expect((await cache.fetchWithOutcome(uris[1]!)).outcome).toBe('downloaded');
    });

    // Not under `npm run mutate` (MEMOCALL_MUTATION_RUN): only the children fetch, and they run
    // unmutated code, so no mutant can change the outcome; it costs a 200 MiB download per run.
    test.runIf(options.crossProcess && !process.env.MEMOCALL_MUTATION_RUN)(
      '8 processes fetching one 200 MiB object at once: one download, all get verified bytes',
      async () => {
        const dir = freshDir();
        const data = randomBytes(200 * 1024 * 1024);
        const digest = sha(data);
        const uri = await put('big', data);
        const children = Array.from({ length: 8 }, () =>
          spawn(
            process.execPath,
            ['--import', tsxLoader, path.join(projectRoot, 'test/fixtures/cache-fetcher.ts'), dir, uri],
            {
              env: { ...process.env, ...s.childEnv },
              stdio: ['pipe', 'pipe', 'pipe'],
            },
          ),
        );
        const results = children.map((c) => finished(c));
        await Promise.all(children.map((c) => waitForLine(c, 'ready', 120_000)));
        for (const c of children) c.stdin.end('go\n');
        const outs = await Promise.all(results);
        const reports = outs.map((o) => {
          expect(o.code, o.stderr).toBe(0);
          return JSON.parse(o.stdout.trim().split('\n').pop()!) as {
            outcome: string;
            path: string;
            sha256: string;
            size: number;
          };
        });
        expect(reports.filter((r) => r.outcome === 'downloaded')).toHaveLength(1);
        for (const r of reports) {
          expect(r.sha256).toBe(digest);
          expect(r.size).toBe(data.byteLength);
        }
        // One entry, whose bytes really are the object's.
        expect(new Set(reports.map((r) => r.path)).size).toBe(1);
        expect(sha(fs.readFileSync(reports[0]!.path))).toBe(digest);
        expect(fs.readdirSync(path.join(dir, 'v1', 'tmp'))).toEqual([]);
        expect(fs.readdirSync(path.join(dir, 'v1', 'locks'))).toEqual([]);
      },
      240_000,
    );
  });
}
