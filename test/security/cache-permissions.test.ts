import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import '../../src/blobstore/builtin-stores.js';
import { lookupBlobStore } from '../../src/blobstore/registry.js';
import { FILL_STAMP_SECONDS } from '../../src/cache/cache-layout.js';
import { DownloadCache } from '../../src/cache/download-cache.js';
import { CACHE_FOREIGN_WARNING } from '../../src/cache/private-files.js';
import { ConfigurationError } from '../../src/core/configuration-error.js';
import { useWarnings } from './cache-warnings.js';

/**
 * Issue 10, finding 7: the download cache widened permissions (a 0600 file became a 0444 entry in
 * 0755 directories, 0777 under umask 000) and trusted whatever it found: another local user could
 * plant an entry a hit served after one stat, or a `.used` symlink that made the victim create a
 * file of the attacker's choosing. Here another user is `nobody` (uid 65534): files planted as if
 * they had written them while the tree was open (chown), and a child process running as nobody
 * for what another user can read.
 */

const NOBODY = 65534;
const sha = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');
const warnings = useWarnings(CACHE_FOREIGN_WARNING);

const made: string[] = [];
let savedUmask: number;
beforeEach(() => {
  savedUmask = process.umask();
});
afterEach(() => {
  process.umask(savedUmask);
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A work folder others may enter (mkdtemp makes 0700 ones): only the cache's own modes protect it. */
function work(): { dir: string; cacheDir: string; storeRoot: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memocall-sec-cache-'));
  made.push(dir);
  fs.chmodSync(dir, 0o755);
  return { dir, cacheDir: path.join(dir, 'cache'), storeRoot: pathToFileURL(path.join(dir, 'store')).href };
}

/** What `nobody` gets trying to read `file` and list `dir`: 'ok' or the error code. */
function asNobody(file: string, dir: string): { read: string; list: string } {
  const program = `
    const fs = require('node:fs');
    const attempt = (f) => { try { f(); return 'ok'; } catch (e) { return e.code; } };
    console.log(JSON.stringify({ read: attempt(() => fs.readFileSync(${JSON.stringify(file)})),
                                 list: attempt(() => fs.readdirSync(${JSON.stringify(dir)})) }));`;
  const child = spawnSync(process.execPath, ['-e', program], { uid: NOBODY, gid: NOBODY, encoding: 'utf8', cwd: '/' });
  expect(child.status, child.stderr).toBe(0);
  return JSON.parse(child.stdout);
}

function allUnder(root: string): Array<{ file: string; st: fs.Stats }> {
  const out: Array<{ file: string; st: fs.Stats }> = [];
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    out.push({ file: p, st });
    if (st.isDirectory()) for (const name of fs.readdirSync(p)) walk(path.join(p, name));
  };
  walk(root);
  return out;
}

/** Plants a file as another user would have, looking like an intact entry (read-only, stamped). */
function plantEntryLike(file: string, data: string | Uint8Array, owner = NOBODY): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  fs.chmodSync(file, 0o444);
  fs.utimesSync(file, FILL_STAMP_SECONDS, FILL_STAMP_SECONDS);
  fs.chownSync(file, owner, owner);
}

describe('the download cache keeps what it holds private', () => {
  test('under umask 000, a 0600 file and a 0600 file:// object become 0400 entries in 0700 directories that nobody else can read', async () => {
    process.umask(0);
    const { dir, cacheDir, storeRoot } = work();
    const secret = path.join(dir, 'secret.txt');
    fs.writeFileSync(secret, `local secret ${randomBytes(8).toString('hex')}`, { mode: 0o600 });
    const cache = new DownloadCache({ dir: cacheDir });
    const added = await cache.add(secret);
    await cache.digestOfLocalFile(secret); // a digest record too

    const uri = `${storeRoot}/object`;
    await lookupBlobStore(storeRoot).put(
      uri,
      new TextEncoder().encode(`stored secret ${randomBytes(8).toString('hex')}`),
    );
    fs.chmodSync(new URL(uri), 0o600);
    const fetched = await cache.fetch(uri); // and an index record

    for (const entry of [added, fetched]) expect(fs.statSync(entry.path).mode & 0o777).toBe(0o400);
    for (const { file, st } of allUnder(cacheDir)) {
      if (st.isDirectory()) expect(st.mode & 0o777, file).toBe(0o700);
      else expect(st.mode & 0o077, file).toBe(0); // entries, markers, records: nothing for group or others
      expect(st.uid, file).toBe(process.getuid!());
    }
    for (const entry of [added, fetched])
      expect(asNobody(entry.path, cacheDir)).toEqual({ read: 'EACCES', list: 'EACCES' });
  });

  test('an entry is never more readable than its most private source', async () => {
    const { dir, cacheDir } = work();
    const cache = new DownloadCache({ dir: cacheDir });
    const open = path.join(dir, 'open.txt');
    const closed = path.join(dir, 'closed.txt');
    fs.writeFileSync(open, 'same bytes', { mode: 0o644 });
    fs.chmodSync(open, 0o644);
    fs.writeFileSync(closed, 'same bytes', { mode: 0o600 });
    const first = await cache.add(open);
    expect(fs.statSync(first.path).mode & 0o777).toBe(0o444);
    const second = await cache.add(closed);
    expect(second.path).toBe(first.path);
    expect(fs.statSync(second.path).mode & 0o777).toBe(0o400);
    expect((await cache.lookup(first.sha256))?.path).toBe(first.path); // still an intact entry
  });

  test('an existing cache with wider directories is narrowed to 0700 on first use', async () => {
    const { cacheDir, storeRoot } = work();
    for (const d of ['', 'v1', 'v1/content', 'v1/content/sha256', 'v1/index', 'v1/tmp', 'v1/locks'])
      fs.mkdirSync(path.join(cacheDir, d), { recursive: true });
    for (const d of ['', 'v1', 'v1/content', 'v1/content/sha256', 'v1/index', 'v1/tmp', 'v1/locks'])
      fs.chmodSync(path.join(cacheDir, d), 0o777);
    const uri = `${storeRoot}/x`;
    await lookupBlobStore(storeRoot).put(uri, randomBytes(100));
    await new DownloadCache({ dir: cacheDir }).fetch(uri);
    for (const { file, st } of allUnder(cacheDir)) if (st.isDirectory()) expect(st.mode & 0o777, file).toBe(0o700);
  });

  test('a cache directory owned by another user is refused with a ConfigurationError naming it', async () => {
    const { dir, cacheDir, storeRoot } = work();
    fs.mkdirSync(cacheDir, { mode: 0o777 });
    fs.chownSync(cacheDir, NOBODY, NOBODY);
    const uri = `${storeRoot}/x`;
    await lookupBlobStore(storeRoot).put(uri, randomBytes(100));
    const refused = new DownloadCache({ dir: cacheDir }).fetch(uri);
    await expect(refused).rejects.toBeInstanceOf(ConfigurationError);
    await expect(refused).rejects.toThrow(cacheDir);
    expect(fs.readdirSync(cacheDir)).toEqual([]); // nothing written into it

    // Nor through a symlink another user made to one of our directories.
    const ours = path.join(dir, 'ours');
    fs.mkdirSync(ours);
    const link = path.join(dir, 'link');
    fs.symlinkSync(ours, link);
    fs.lchownSync(link, NOBODY, NOBODY);
    await expect(new DownloadCache({ dir: link }).fetch(uri)).rejects.toThrow(link);
  });
});

describe('the download cache trusts nothing another user put in it', () => {
  test('an entry planted by another user is not served: removed with a warning, fetched again', async () => {
    const { cacheDir, storeRoot } = work();
    const genuine = new TextEncoder().encode(`genuine ${randomBytes(8).toString('hex')}`);
    const uri = `${storeRoot}/genuine`;
    await lookupBlobStore(storeRoot).put(uri, genuine);
    const cache = new DownloadCache({ dir: cacheDir });
    cache.prepare();
    plantEntryLike(cache.layout.content(sha(genuine)), 'evil bytes');

    expect(await cache.lookup(sha(genuine))).toBeUndefined();
    plantEntryLike(cache.layout.content(sha(genuine)), 'evil bytes');
    const got = await cache.fetchWithOutcome(uri, { sha256: sha(genuine) });
    expect(got.outcome).toBe('downloaded');
    expect(fs.readFileSync(got.file.path, 'utf8')).toBe(new TextDecoder().decode(genuine));
    expect(fs.statSync(got.file.path).uid).toBe(process.getuid!());
    await warnings.settled();
    expect(warnings.all().some((w) => w.message.includes(cache.layout.content(sha(genuine))))).toBe(true);
  });

  test('an entry that is a symlink is not served, even to a stamped read-only file of ours', async () => {
    const { dir, cacheDir, storeRoot } = work();
    const genuine = new TextEncoder().encode(`genuine ${randomBytes(8).toString('hex')}`);
    const uri = `${storeRoot}/genuine`;
    await lookupBlobStore(storeRoot).put(uri, genuine);
    const cache = new DownloadCache({ dir: cacheDir });
    cache.prepare();
    const elsewhere = path.join(dir, 'elsewhere');
    plantEntryLike(elsewhere, 'evil bytes', process.getuid!());
    fs.mkdirSync(path.dirname(cache.layout.content(sha(genuine))), { recursive: true, mode: 0o700 });
    fs.symlinkSync(elsewhere, cache.layout.content(sha(genuine)));
    const got = await cache.fetch(uri, { sha256: sha(genuine) });
    expect(fs.lstatSync(got.path).isFile()).toBe(true);
    expect(fs.readFileSync(got.path, 'utf8')).toBe(new TextDecoder().decode(genuine));
  });

  test('an index record planted by another user does not decide what a URI holds', async () => {
    const { cacheDir, storeRoot } = work();
    const store = lookupBlobStore(storeRoot);
    const cache = new DownloadCache({ dir: cacheDir });
    await store.put(`${storeRoot}/other`, new TextEncoder().encode('other content'));
    const other = await cache.fetch(`${storeRoot}/other`);
    const uri = `${storeRoot}/target`;
    await store.put(uri, new TextEncoder().encode('the real content'));
    const head = (await store.head(uri))!;
    const record = cache.layout.index(uri);
    fs.mkdirSync(path.dirname(record), { recursive: true });
    fs.writeFileSync(record, JSON.stringify({ uri, etag: head.etag, sha256: other.sha256, size: other.size }));
    fs.chownSync(record, NOBODY, NOBODY);
    const got = await cache.fetch(uri);
    expect(fs.readFileSync(got.path, 'utf8')).toBe('the real content');
  });

  test("a digest record planted by another user does not decide a local file's key", async () => {
    const { dir, cacheDir } = work();
    const file = path.join(dir, 'input.csv');
    fs.writeFileSync(file, 'a,b\n1,2\n');
    const cache = new DownloadCache({ dir: cacheDir });
    cache.prepare();
    // A record naming this very file with its current identity, but another hash.
    const st = fs.statSync(file, { bigint: true });
    const record = cache.layout.localHash(file);
    fs.mkdirSync(path.dirname(record), { recursive: true });
    const identity = { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
    const forged = { ...Object.fromEntries(Object.entries(identity).map(([k, v]) => [k, String(v)])), path: file };
    fs.writeFileSync(record, JSON.stringify({ ...forged, sha256: sha('something else') }));
    fs.chownSync(record, NOBODY, NOBODY);
    expect((await cache.digestOfLocalFile(file)).sha256).toBe(sha('a,b\n1,2\n'));
  });

  test('a FIFO planted at an index record path neither blocks a fetch nor is trusted', async () => {
    const { cacheDir, storeRoot } = work();
    const uri = `${storeRoot}/x`;
    await lookupBlobStore(storeRoot).put(uri, new TextEncoder().encode('content'));
    const cache = new DownloadCache({ dir: cacheDir });
    cache.prepare();
    const record = cache.layout.index(uri);
    fs.mkdirSync(path.dirname(record), { recursive: true });
    expect(spawnSync('mkfifo', [record]).status).toBe(0);
    // (Without O_NONBLOCK this read would block the whole process: nothing could time it out.)
    expect(fs.readFileSync((await cache.fetch(uri)).path, 'utf8')).toBe('content');
    expect(fs.lstatSync(record).isFile()).toBe(true);
  });

  test('a `.used` symlink never makes a hit create or touch a file elsewhere', async () => {
    const { dir, cacheDir, storeRoot } = work();
    const uri = `${storeRoot}/x`;
    await lookupBlobStore(storeRoot).put(uri, randomBytes(1000));
    const cache = new DownloadCache({ dir: cacheDir });
    const entry = await cache.fetch(uri);
    const marker = `${entry.path}.used`;

    const chosen = path.join(dir, 'created-by-victim');
    fs.rmSync(marker);
    fs.symlinkSync(chosen, marker);
    fs.lchownSync(marker, NOBODY, NOBODY);
    expect((await cache.lookup(entry.sha256))?.path).toBe(entry.path);
    expect(fs.existsSync(chosen)).toBe(false);
    expect(fs.lstatSync(marker).isFile()).toBe(true);

    const existing = path.join(dir, 'existing');
    fs.writeFileSync(existing, 'x');
    fs.utimesSync(existing, 1000, 1000);
    fs.rmSync(marker);
    fs.symlinkSync(existing, marker);
    await cache.lookup(entry.sha256);
    expect(fs.statSync(existing).mtimeMs).toBe(1_000_000);

    // A marker owned by another user is replaced by one of ours.
    fs.rmSync(marker);
    fs.writeFileSync(marker, '');
    fs.chownSync(marker, NOBODY, NOBODY);
    await cache.lookup(entry.sha256);
    expect(fs.lstatSync(marker).uid).toBe(process.getuid!());
    await warnings.settled();
    expect(warnings.all().filter((w) => w.message.includes(marker)).length).toBeGreaterThanOrEqual(3);
  });

  test('a symlink in place of a shard directory is replaced: the entry lands inside the cache', async () => {
    const { dir, cacheDir, storeRoot } = work();
    const data = randomBytes(1000);
    const uri = `${storeRoot}/x`;
    await lookupBlobStore(storeRoot).put(uri, data);
    const cache = new DownloadCache({ dir: cacheDir });
    cache.prepare();
    const attackers = path.join(dir, 'attackers');
    fs.mkdirSync(attackers, { mode: 0o777 });
    fs.chmodSync(attackers, 0o777);
    const shard = path.dirname(cache.layout.content(sha(data)));
    fs.mkdirSync(path.dirname(shard), { recursive: true });
    fs.symlinkSync(attackers, shard);
    const got = await cache.fetch(uri);
    expect(fs.lstatSync(shard).isDirectory()).toBe(true);
    expect(fs.realpathSync(got.path).startsWith(fs.realpathSync(cacheDir))).toBe(true);
    expect(fs.readdirSync(attackers)).toEqual([]);
  });
});
