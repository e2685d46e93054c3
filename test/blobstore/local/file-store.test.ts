import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FileBlobStore } from '../../../src/blobstore/local/file-store.js';
import { HEADER_BYTES } from '../../../src/blobstore/local/object-header.js';
import { BlobNotFoundError, PreconditionFailedError, UnsupportedUriError } from '../../../src/blobstore/errors.js';

// What only the file store has: URI ↔ path rules, its temp and lock files, fsync. The shared
// behaviour is in test/conformance/.

let dir: string;
let root: string;
const store = new FileBlobStore();
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

beforeAll(async () => {
  dir = await fs.promises.realpath(await fs.promises.mkdtemp(path.join(os.tmpdir(), 'memocall-file-store-')));
  root = pathToFileURL(dir).href;
});

afterAll(async () => {
  await fs.promises.rm(dir, { recursive: true, force: true });
});

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** The bytes of an object file after its checksum header, as text. */
const objectText = (file: Buffer) => text(file.subarray(HEADER_BYTES));

async function filesUnder(d: string): Promise<string[]> {
  return (await fs.promises.readdir(d, { recursive: true })).map(String).sort();
}

describe('URI validation', () => {
  const bad: Array<[string, string]> = [
    ['file://relative/x', 'a host instead of an absolute path'],
    ['file:relative/x', 'no //'],
    ['file:/abs/x', 'one slash'],
    ['file:///a/../b', '..'],
    ['file:///a/./b', '.'],
    ['file:///a/%2e%2E/b', 'encoded ..'],
    ['file:///a//b', 'empty segment'],
    ['file:///a/b/', 'trailing / (a directory)'],
    ['file:///a%2Fb', 'encoded /'],
    ['file:///a?x=1', 'query'],
    ['file:///a#frag', 'fragment'],
    ['file:///a\\b', 'backslash'],
    ['file:///a%00b', 'NUL'],
    ['file:///a%ZZ', 'bad percent-encoding'],
    ['file:///a/.b.memocall-lock', 'reserved lock name'],
    ['file:///a/.b.memocall-tmp-1', 'reserved temp name'],
    ['s3://bucket/key', 'another scheme'],
  ];
  for (const [uri, why] of bad) {
    test(`rejects ${uri} (${why})`, async () => {
      await expect(store.get(uri)).rejects.toBeInstanceOf(UnsupportedUriError);
      await expect(store.put(uri, bytes('x'))).rejects.toBeInstanceOf(UnsupportedUriError);
      await expect(store.head(uri)).rejects.toBeInstanceOf(UnsupportedUriError);
      await expect(store.delete(uri)).rejects.toBeInstanceOf(UnsupportedUriError);
      const e = await store.get(uri).catch((err: unknown) => err);
      expect((e as UnsupportedUriError).uri).toBe(uri);
      expect((e as Error).message).toContain(uri);
    });
  }

  test('list rejects prefixes whose directory part is not a plain absolute file URI', async () => {
    for (const prefix of ['file://host/x/', 'file:///a/../b/', 'file:///a//b', 'file:x/']) {
      await expect(collect(store.list(prefix)), prefix).rejects.toBeInstanceOf(UnsupportedUriError);
    }
  });

  test('percent-encoding is decoded: the object lives at the decoded path', async () => {
    const uri = `${root}/pct/a%20b/caf%C3%A9%25`;
    await store.put(uri, bytes('x'));
    expect(objectText(fs.readFileSync(path.join(dir, 'pct', 'a b', 'café%')))).toBe('x');
    expect(text(await store.get(uri))).toBe('x');
    // A raw space means the same file.
    expect(text(await store.get(`${root}/pct/a b/caf%C3%A9%25`))).toBe('x');
    // Listed names are percent-encoded; the prefix keeps its own spelling up to its last '/'.
    expect(await collect(store.list(`${root}/pct/`))).toEqual([uri]);
    expect(await collect(store.list(`${root}/pct/a b/`))).toEqual([`${root}/pct/a b/caf%C3%A9%25`]);
  });

  test('file://localhost/ names the same file as file:///', async () => {
    await store.put(`${root}/lh/obj`, bytes('same'));
    expect(text(await store.get(`${root.replace('file://', 'file://localhost')}/lh/obj`))).toBe('same');
  });

  test('names needing encoding list as URIs that read back', async () => {
    await fs.promises.mkdir(path.join(dir, 'odd'));
    const names = ['q?x', 'h#y', 'p%z', 'sp ace', 'ünï', 'tab\tx', "plain-._~!$&'()*+,;=:@"];
    for (const n of names) await fs.promises.writeFile(path.join(dir, 'odd', n), n);
    const listed = await collect(store.list(`${root}/odd/`));
    expect(listed).toHaveLength(names.length);
    expect([...listed].sort()).toEqual(listed);
    for (const uri of listed) expect(names).toContain(text(await store.get(uri)));
    expect(listed).toContain(`${root}/odd/plain-._~!$&'()*+,;=:@`);
  });
});

describe('temp and lock files', () => {
  test('list skips temp and lock files but lists other hidden files', async () => {
    const d = path.join(dir, 'hidden');
    await fs.promises.mkdir(d);
    await store.put(`${root}/hidden/obj`, bytes('1'));
    await fs.promises.writeFile(path.join(d, '.obj.memocall-tmp-1a-deadbeef-0'), 'partial');
    await fs.promises.writeFile(path.join(d, '.obj.memocall-lock'), '');
    await fs.promises.writeFile(path.join(d, '.obj.memocall-lockbreak'), '');
    await fs.promises.writeFile(path.join(d, '.dotfile'), 'user data');
    expect(await collect(store.list(`${root}/hidden/`))).toEqual([`${root}/hidden/.dotfile`, `${root}/hidden/obj`]);
  });

  test('no temp file is left after a failed putFile (missing source)', async () => {
    await fs.promises.mkdir(path.join(dir, 'pf-missing'));
    await expect(store.putFile(path.join(dir, 'no-such-file'), `${root}/pf-missing/obj`)).rejects.toMatchObject({
      code: 'ENOENT',
    });
    expect(await filesUnder(path.join(dir, 'pf-missing'))).toEqual([]);
  });

  test('no temp file is left when the parent "directory" is an object', async () => {
    await store.put(`${root}/clash/obj`, bytes('1'));
    await expect(store.put(`${root}/clash/obj/below`, bytes('2'))).rejects.toThrow();
    expect(await filesUnder(path.join(dir, 'clash'))).toEqual(['obj']);
  });

  test('a failed ifNoneMatch or ifMatch leaves only the object', async () => {
    const { etag } = await store.put(`${root}/cond/obj`, bytes('1'), { ifNoneMatch: '*' });
    await expect(store.put(`${root}/cond/obj`, bytes('2'), { ifNoneMatch: '*' })).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    await store.put(`${root}/cond/obj`, bytes('3'), { ifMatch: etag });
    await expect(store.put(`${root}/cond/obj`, bytes('4'), { ifMatch: etag })).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    expect(await filesUnder(path.join(dir, 'cond'))).toEqual(['obj']);
  });

  test('ifMatch on an object whose directory is missing creates no directory', async () => {
    await expect(store.put(`${root}/nodir/deep/obj`, bytes('1'), { ifMatch: 'x' })).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    expect(fs.existsSync(path.join(dir, 'nodir'))).toBe(false);
  });

  test('getFile of an absent object into a missing directory leaves no file', async () => {
    const dst = path.join(dir, 'gf', 'out');
    await expect(store.getFile(`${root}/gf-src/none`, dst)).rejects.toBeInstanceOf(BlobNotFoundError);
    expect(fs.existsSync(dst)).toBe(false);
    expect(await filesUnder(path.join(dir, 'gf')).catch(() => [])).toEqual([]);
  });
});

describe('versions', () => {
  test('the etag is not derived from the content', async () => {
    const a = await store.put(`${root}/etag/a`, bytes('same'));
    const b = await store.put(`${root}/etag/b`, bytes('same'));
    expect(a.etag).not.toBe(b.etag);
  });

  test('put replaces the inode: a reader holding the old version keeps reading it whole', async () => {
    await store.put(`${root}/inode/obj`, bytes('old'));
    const fd = fs.openSync(path.join(dir, 'inode', 'obj'), 'r');
    await store.put(`${root}/inode/obj`, bytes('new!'));
    expect(objectText(fs.readFileSync(fd))).toBe('old');
    fs.closeSync(fd);
  });

  test('fsync option: writes still round-trip', async () => {
    const durable = new FileBlobStore({ fsync: true });
    const { etag } = await durable.put(`${root}/fsync/obj`, bytes('1'), { ifNoneMatch: '*' });
    await durable.put(`${root}/fsync/obj`, bytes('2'), { ifMatch: etag });
    expect(text(await durable.get(`${root}/fsync/obj`))).toBe('2');
  });

  test('a symlink to a file is an object; one to a directory is not followed', async () => {
    await store.put(`${root}/links/target/obj`, bytes('t'));
    await fs.promises.symlink(path.join(dir, 'links', 'target', 'obj'), path.join(dir, 'links', 'file-link'));
    await fs.promises.symlink(path.join(dir, 'links', 'target'), path.join(dir, 'links', 'dir-link'));
    expect(await collect(store.list(`${root}/links/`))).toEqual([
      `${root}/links/file-link`,
      `${root}/links/target/obj`,
    ]);
    expect(text(await store.get(`${root}/links/file-link`))).toBe('t');
  });
});
