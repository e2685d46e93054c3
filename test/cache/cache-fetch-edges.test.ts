// Fetch paths the store suite does not take (bad options, a vanished object, a wrong size), the
// integrity error's text, and the progress bar of transfers and of its line rendering.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import '../../src/blobstore/builtin-stores.js';
import { BlobNotFoundError } from '../../src/blobstore/errors.js';
import { lookupBlobStore } from '../../src/blobstore/registry.js';
import { DownloadCache } from '../../src/cache/download-cache.js';
import { CacheIntegrityError } from '../../src/cache/errors.js';
import { listEntries } from '../../src/cache/eviction.js';
import { formatBytes, PROGRESS_ENV, renderProgressLine, startProgress } from '../../src/cache/progress.js';
import { readIndex, writeIndex } from '../../src/cache/uri-index.js';
import { ConfigurationError } from '../../src/core/configuration-error.js';
import { ObservedStore } from '../support/observed-store.js';
import { useTempDir } from '../support/temp-dir.js';

const tempDir = useTempDir();
const sha = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');
let rootNumber = 0;
const memoryRoot = () => `memory://cache-edges-${process.pid}-${rootNumber++}`;
const savedProgress = process.env[PROGRESS_ENV];
afterEach(() => {
  if (savedProgress === undefined) delete process.env[PROGRESS_ENV];
  else process.env[PROGRESS_ENV] = savedProgress;
});

/** A fake terminal (or pipe) that records what is drawn on it. */
function terminal(isTTY: boolean, columns = 120) {
  const stream = Object.assign(new PassThrough(), { isTTY, columns });
  const out = { text: '' };
  stream.on('data', (d: Buffer) => (out.text += d.toString()));
  return { stream: stream as unknown as NodeJS.WriteStream, out };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; !check(); i++) {
    if (i > 3000) throw new Error(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('fetch', () => {
  test('a sha256 option that is not 64 hex digits is refused; upper case is accepted', async () => {
    const root = memoryRoot();
    const data = new TextEncoder().encode('known');
    await lookupBlobStore(root).put(`${root}/k`, data);
    const cache = new DownloadCache({ dir: path.join(tempDir().dir, 'c') });
    await expect(cache.fetch(`${root}/k`, { sha256: 'abc' })).rejects.toThrow(ConfigurationError);
    await expect(cache.fetch(`${root}/k`, { sha256: 'abc' })).rejects.toThrow('sha256 must be 64 hex digits, got abc');
    const first = await cache.fetchWithOutcome(`${root}/k`, { sha256: sha(data).toUpperCase() });
    expect(first.outcome).toBe('downloaded');
    expect(first.file.sha256).toBe(sha(data));
    expect((await cache.fetchWithOutcome(`${root}/k`, { sha256: sha(data).toUpperCase() })).outcome).toBe('hit');
  });

  test('a missing object is BlobNotFoundError, with or without an expected hash, and leaves nothing behind', async () => {
    const root = memoryRoot();
    const cache = new DownloadCache({ dir: path.join(tempDir().dir, 'c') });
    await expect(cache.fetch(`${root}/missing`)).rejects.toThrow(BlobNotFoundError);
    await expect(cache.fetch(`${root}/missing`, { sha256: sha('x') })).rejects.toThrow(BlobNotFoundError);
    expect(listEntries(cache.layout)).toEqual([]);
    expect(fs.existsSync(cache.layout.tmpRoot) ? fs.readdirSync(cache.layout.tmpRoot) : []).toEqual([]);
  });

  test('content of the wrong size is refused twice (one retry) and nothing is cached', async () => {
    const root = memoryRoot();
    const data = new TextEncoder().encode('eleven byte');
    await lookupBlobStore(root).put(`${root}/s`, data);
    const cache = new DownloadCache({ dir: path.join(tempDir().dir, 'c') });
    const err = await cache.fetch(`${root}/s`, { sha256: sha(data), size: 12 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CacheIntegrityError);
    expect((err as CacheIntegrityError).expected).toBe('12 bytes');
    expect((err as CacheIntegrityError).actual).toBe('11 bytes');
    expect(listEntries(cache.layout)).toEqual([]);
    expect(readIndex(cache.layout, `${root}/s`)).toBeUndefined();
    // The right size is accepted.
    expect((await cache.fetch(`${root}/s`, { sha256: sha(data), size: 11 })).size).toBe(11);
  });

  test('an object deleted right after its transfer is served but not indexed', async () => {
    const data = randomBytes(2000);
    const { root, store } = ObservedStore.register('vanishing', memoryRoot(), {
      async getFile(uri, localPath, transfer) {
        await transfer(uri, localPath);
        await store.delete(uri);
      },
    });
    const uri = `${root}/gone-after`;
    await store.put(uri, data);
    const cache = new DownloadCache({ dir: path.join(tempDir().dir, 'c') });
    const file = await cache.fetch(uri);
    expect(fs.readFileSync(file.path).equals(data)).toBe(true);
    expect(readIndex(cache.layout, uri)).toBeUndefined();
  });

  test('a tampered index record (another URI, bad hash) is not trusted: the object is fetched', async () => {
    const root = memoryRoot();
    const uri = `${root}/t`;
    await lookupBlobStore(uri).put(uri, new TextEncoder().encode('real'));
    const cache = new DownloadCache({ dir: path.join(tempDir().dir, 'c') });
    const first = await cache.fetch(uri);
    const record = readIndex(cache.layout, uri)!;
    // An index record pointing at other (cached) content, under this URI and version but malformed.
    const src = path.join(cache.dir, '..', 'other');
    fs.writeFileSync(src, 'fake');
    const other = await cache.add(src);
    fs.writeFileSync(cache.layout.index(uri), JSON.stringify({ ...record, uri: `${uri}x`, sha256: other.sha256 }));
    expect(await cache.fetchWithOutcome(uri)).toEqual({ outcome: 'downloaded', file: first });
    // A well-formed record for this version is trusted as written (it says which bytes it had).
    writeIndex(cache.layout, { ...record, sha256: other.sha256, size: other.size });
    expect((await cache.fetchWithOutcome(uri)).file.sha256).toBe(other.sha256);
  });
});

describe('CacheIntegrityError', () => {
  test('names the URI, what was expected and what came; hides the digest of a local file', () => {
    const remote = new CacheIntegrityError('s3://b/k', `sha256 ${'a'.repeat(64)}`, `sha256 ${'b'.repeat(64)}`);
    expect(remote.code).toBe('MEMOCALL_CACHE_INTEGRITY');
    expect(remote.message).toBe(
      `s3://b/k: content does not match what was expected (expected sha256 ${'a'.repeat(64)}, got sha256 ${'b'.repeat(64)})`,
    );
    expect(remote.uri).toBe('s3://b/k');
    expect(remote.actual).toBe(`sha256 ${'b'.repeat(64)}`);
    const local = new CacheIntegrityError('FILE:///etc/shadow', `sha256 ${'a'.repeat(64)}`, `sha256 ${'b'.repeat(64)}`);
    expect(local.actual).toBe('other content');
    expect(local.message).not.toContain('b'.repeat(64));
    expect(new CacheIntegrityError('file:///x', '3 bytes', '4 bytes').actual).toBe('4 bytes');
  });
});

describe('progress of transfers', () => {
  test('a slow download from a store shows the bytes arrived so far, then clears its line', async () => {
    const data = randomBytes(300_000);
    const tty = terminal(true);
    const { root, store } = ObservedStore.register('slowdown', memoryRoot(), {
      async getFile(uri, localPath, transfer) {
        // Outside the transfer's temp folder, whose bytes are what the bar counts.
        const tmp = path.join(tempDir().dir, 'part');
        await transfer(uri, tmp);
        fs.writeFileSync(localPath, fs.readFileSync(tmp).subarray(0, 150_000)); // half has arrived
        await until(() => /146\.5 KiB \/ 293\.0 KiB/.test(tty.out.text), 'the half drawn');
        fs.renameSync(tmp, localPath);
      },
    });
    const uri = `${root}/slow`;
    await store.put(uri, data);
    const cache = new DownloadCache({
      dir: path.join(tempDir().dir, 'c'),
      progress: { stream: tty.stream, delayMs: 0, intervalMs: 10 },
    });
    await cache.fetch(uri);
    expect(tty.out.text).toContain(`⇣ ${uri}`);
    expect(tty.out.text.endsWith('\r\x1b[K')).toBe(true);
  });

  test('add and file:// downloads report progress under ⇡ / ⇣ labels', async () => {
    const { dir } = tempDir();
    const tty = terminal(true, 400);
    const cache = new DownloadCache({
      dir: path.join(dir, 'c'),
      progress: { stream: tty.stream, delayMs: 0, intervalMs: 1, force: true },
    });
    const source = path.join(dir, 'big');
    fs.writeFileSync(source, randomBytes(8 * 1024 * 1024));
    await cache.add(source);
    expect(tty.out.text).toContain(`⇡ ${source}`);
    expect(tty.out.text.endsWith('\r\x1b[K')).toBe(true);
    const storeRoot = pathToFileURL(path.join(dir, 'store')).href;
    fs.appendFileSync(source, 'x'); // other content than the added one
    await lookupBlobStore(storeRoot).putFile(source, `${storeRoot}/big`);
    tty.out.text = '';
    await cache.fetch(`${storeRoot}/big`);
    expect(tty.out.text).toContain(`⇣ ${storeRoot}/big`);
    expect(tty.out.text).toMatch(/ \/ 8\.0 MiB/);
    expect(tty.out.text.endsWith('\r\x1b[K')).toBe(true);
  });

  test('MEMOCALL_PROGRESS=0 silences even a forced bar; =1 draws on a pipe; stop is idempotent', async () => {
    process.env[PROGRESS_ENV] = '0';
    const off = terminal(true);
    const p0 = startProgress('⇣ off', 10, { stream: off.stream, delayMs: 0, intervalMs: 1, force: true });
    await new Promise((r) => setTimeout(r, 30));
    p0.stop();
    expect(off.out.text).toBe('');

    process.env[PROGRESS_ENV] = '1';
    const pipe = terminal(false);
    const p1 = startProgress('⇣ piped', 10, { stream: pipe.stream, delayMs: 0, intervalMs: 1 });
    p1.update(5);
    await until(() => pipe.out.text.includes('5 B / 10 B'), 'a bar on the pipe');
    p1.stop();
    const after = pipe.out.text;
    expect(after.endsWith('\r\x1b[K')).toBe(true);
    p1.stop();
    expect(pipe.out.text).toBe(after);

    delete process.env[PROGRESS_ENV];
    const forced = terminal(false);
    const p2 = startProgress('⇣ forced', undefined, { stream: forced.stream, delayMs: 0, intervalMs: 1, force: true });
    p2.update(2048);
    await until(() => forced.out.text.includes('2.0 KiB'), 'a forced bar');
    p2.stop();
  });

  test('a bar that never drew clears nothing', async () => {
    const tty = terminal(true);
    const p = startProgress('⇣ quiet', 10, { stream: tty.stream, delayMs: 60_000, intervalMs: 1 });
    await new Promise((r) => setTimeout(r, 20));
    p.stop();
    expect(tty.out.text).toBe('');
  });
});

describe('the progress line', () => {
  test('bytes use binary units with one decimal, whole bytes below 1 KiB, TiB at most', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.0 KiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(1024 ** 2)).toBe('1.0 MiB');
    expect(formatBytes(1024 ** 3 * 3)).toBe('3.0 GiB');
    expect(formatBytes(1024 ** 4)).toBe('1.0 TiB');
    expect(formatBytes(1024 ** 5)).toBe('1024.0 TiB');
  });

  test('a known total draws a 20-cell bar, size, rate and ETA', () => {
    expect(renderProgressLine('L', 0, 1000, 0, 200)).toBe('L  [░░░░░░░░░░░░░░░░░░░░]  0 B / 1000 B  0 B/s  ETA ?');
    expect(renderProgressLine('L', 500, 1000, 1000, 200)).toBe(
      'L  [██████████░░░░░░░░░░]  500 B / 1000 B  500 B/s  ETA 1s',
    );
    // More than announced (an object that grew): the bar is full, not overflowing.
    expect(renderProgressLine('L', 2000, 1000, 1000, 200)).toContain(`[${'█'.repeat(20)}]`);
    expect(renderProgressLine('L', 1, 1000, 1000, 200)).toContain('ETA 16m39s');
    expect(renderProgressLine('L', 1, 100_000, 1000, 200)).toContain('ETA 27h46m');
    expect(renderProgressLine('L', 1, 1 + 3600, 1000, 200)).toContain('ETA 1h00m');
    expect(renderProgressLine('L', 1, 1 + 59, 1000, 200)).toContain('ETA 59s');
    expect(renderProgressLine('L', 1, 1 + 60, 1000, 200)).toContain('ETA 1m00s');
  });

  test('an unknown (or zero) total draws bytes, rate and elapsed time', () => {
    expect(renderProgressLine('L', 2048, undefined, 2000, 200)).toBe('L  2.0 KiB  1.0 KiB/s  2s');
    expect(renderProgressLine('L', 0, 0, 0, 200)).toBe('L  0 B  0 B/s  0s');
    expect(renderProgressLine('L', 0, undefined, 61_000, 200)).toBe('L  0 B  0 B/s  1m01s');
  });

  test('a long label keeps its end, behind an ellipsis, to fit the width', () => {
    const label = `⇣ s3://bucket/${'x'.repeat(200)}/end.parquet`;
    const line = renderProgressLine(label, 0, undefined, 0, 80);
    expect(line.length).toBeLessThanOrEqual(80);
    expect(line.startsWith('…')).toBe(true);
    expect(line).toContain('/end.parquet  0 B');
    const tail = '  0 B  0 B/s  0s';
    expect(line.length).toBe(80 - 5 + 2); // label, two spaces and the tail fill all but 3 columns
    // Never less than 10 characters of label, however narrow.
    expect(renderProgressLine(label, 0, undefined, 0, 5)).toBe(`…${label.slice(label.length - 9)}${tail}`);
    expect(renderProgressLine('short', 0, undefined, 0, 5)).toBe(`short${tail}`);
  });
});
