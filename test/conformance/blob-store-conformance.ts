import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BlobStore, VersionedBlob } from '../../src/blobstore/blob-store.js';
import { BlobNotFoundError, IntegrityError, PreconditionFailedError } from '../../src/blobstore/errors.js';

export interface ConformanceSetup {
  /** A root URI (no trailing `/` needed) the suite may fill with objects under unique sub-prefixes. */
  root: string;
  store: BlobStore;
  teardown?: () => Promise<void>;
  /**
   * For stores whose stored bytes a test can change behind the store's back (as disk or memory
   * corruption would): replaces the object's data bytes by what `mutate` returns, leaving the
   * stored digest as it was. Enables the corruption-detection tests.
   */
  corrupt?: (uri: string, mutate: (data: Uint8Array) => Uint8Array) => Promise<void>;
  /** The store reports `head().sha256` for every object it writes. */
  reportsSha256?: boolean;
}

/**
 * What every BlobStore must do, whatever its backend: run it for each store (file, memory, S3,
 * Azure) with a fresh or shared root. Tests use unique sub-prefixes, so a root may be reused
 * across runs. Keys stay ASCII, and no key is both an object and a "directory" of another object
 * (the file store cannot hold `a` and `a/b` at once).
 */
export function describeBlobStoreConformance(name: string, setup: () => Promise<ConformanceSetup>): void {
  describe(`BlobStore conformance: ${name}`, () => {
    let store: BlobStore;
    let root: string;
    let teardown: (() => Promise<void>) | undefined;
    let corrupt: ConformanceSetup['corrupt'];
    let reportsSha256 = false;
    let localDir: string;

    beforeAll(async () => {
      const s = await setup();
      store = s.store;
      root = s.root.replace(/\/+$/, '');
      teardown = s.teardown;
      corrupt = s.corrupt;
      reportsSha256 = s.reportsSha256 ?? false;
      localDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'memocall-conformance-'));
    });

    afterAll(async () => {
      await fs.promises.rm(localDir, { recursive: true, force: true });
      await teardown?.();
    });

    /** A prefix no other test (or earlier run against the same root) uses. */
    const fresh = (label: string): string => `${root}/${label}-${randomBytes(6).toString('hex')}`;

    describe('round trips', () => {
      const cases: Array<[string, () => Uint8Array]> = [
        ['empty (0 bytes)', () => new Uint8Array(0)],
        ['1 byte', () => Uint8Array.of(0x2a)],
        ['every byte value', () => Uint8Array.from({ length: 512 }, (_, i) => i % 256)],
        ['small text', () => new TextEncoder().encode('{"hello":"wörld"}\n')],
        ['~5 MiB', () => randomBytes(5 * 1024 * 1024 + 17)],
      ];
      for (const [label, make] of cases) {
        test(label, async () => {
          const uri = `${fresh('rt')}/obj`;
          const data = make();
          const { etag } = await store.put(uri, data);
          expect(typeof etag).toBe('string');
          expect(etag.length).toBeGreaterThan(0);
          expectBytes(await store.get(uri), data);
          const head = await store.head(uri);
          expect(head).not.toBeNull();
          expect(head!.size).toBe(data.byteLength);
          expect(head!.etag).toBe(etag);
          expect(head!.lastModified).toBeInstanceOf(Date);
          expect(Number.isNaN(head!.lastModified.getTime())).toBe(false);
        });
      }

      test('keys with memocall-style characters (@, =, -, ., _)', async () => {
        const uri = `${fresh('rt')}/memocall-v1/pipe/line/mod--fn@logic-1/calls-AbC_d/key-word-x.Y=/result`;
        await store.put(uri, Uint8Array.of(1, 2, 3));
        expectBytes(await store.get(uri), Uint8Array.of(1, 2, 3));
      });

      test('put overwrites and get returns the latest version', async () => {
        const uri = `${fresh('rt')}/obj`;
        await store.put(uri, Uint8Array.of(1));
        await store.put(uri, Uint8Array.of(2, 2));
        expectBytes(await store.get(uri), Uint8Array.of(2, 2));
      });

      test('stored bytes are isolated from the caller arrays', async () => {
        const uri = `${fresh('rt')}/obj`;
        const data = Uint8Array.of(1, 2, 3);
        await store.put(uri, data);
        data[0] = 99;
        const got = await store.get(uri);
        expectBytes(got, Uint8Array.of(1, 2, 3));
        got[1] = 99;
        expectBytes(await store.get(uri), Uint8Array.of(1, 2, 3));
      });

      test('getVersioned returns the bytes with the etag head reports', async () => {
        const uri = `${fresh('rt')}/obj`;
        const { etag } = await store.put(uri, Uint8Array.of(5, 6));
        const v = await readVersioned(store, uri);
        expectBytes(v.data, Uint8Array.of(5, 6));
        expect(v.etag).toBe(etag);
        const head = await store.head(uri);
        expect(v.etag).toBe(head!.etag);
        expect(v.size).toBe(2);
        expect(v.lastModified.getTime()).toBe(head!.lastModified.getTime());
      });

      test('64 MiB through putFile / getFile', async () => {
        const uri = `${fresh('big')}/obj`;
        const src = path.join(localDir, `big-src-${randomBytes(4).toString('hex')}`);
        const dst = path.join(localDir, `big-dst-${randomBytes(4).toString('hex')}`, 'nested', 'out.bin');
        const size = 64 * 1024 * 1024;
        const chunk = Buffer.allocUnsafe(4 * 1024 * 1024);
        const fh = await fs.promises.open(src, 'w');
        const hash = createHash('sha256');
        for (let off = 0; off < size; off += chunk.length) {
          randomFillSync(chunk);
          hash.update(chunk);
          await fh.write(chunk);
        }
        await fh.close();
        const expected = hash.digest('hex');
        try {
          const { etag } = await store.putFile(src, uri);
          const head = await store.head(uri);
          expect(head!.size).toBe(size);
          expect(head!.etag).toBe(etag);
          await store.getFile(uri, dst); // creates the missing parent directories
          expect((await fs.promises.stat(dst)).size).toBe(size);
          expect(await sha256File(dst)).toBe(expected);
          // getFile replaces an existing local file.
          await store.put(uri, Uint8Array.of(7));
          await store.getFile(uri, dst);
          expectBytes(await fs.promises.readFile(dst), Uint8Array.of(7));
          expect(await fs.promises.readdir(path.dirname(dst))).toEqual(['out.bin']);
        } finally {
          await fs.promises.rm(src, { force: true });
          await fs.promises.rm(path.dirname(path.dirname(dst)), { recursive: true, force: true });
        }
      });
    });

    describe('absent objects', () => {
      test('get, getVersioned, getFile reject with BlobNotFoundError; head is null', async () => {
        const uri = `${fresh('absent')}/nothing`;
        const e = await store.get(uri).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(e).toBeInstanceOf(BlobNotFoundError);
        expect((e as BlobNotFoundError).uri).toBe(uri);
        if (store.getVersioned) await expect(store.getVersioned(uri)).rejects.toBeInstanceOf(BlobNotFoundError);
        expect(await store.head(uri)).toBeNull();
      });

      test('tryGet (when the store has it) is undefined for an absent object and the bytes otherwise', async (ctx) => {
        if (!store.tryGet) return ctx.skip();
        const base = fresh('tryget');
        expect(await store.tryGet(`${base}/nothing`)).toBeUndefined();
        expect(await store.tryGet(`${base}`)).toBeUndefined();
        const data = Uint8Array.from({ length: 300 }, (_, i) => i % 256);
        await store.put(`${base}/obj`, data);
        expectBytes((await store.tryGet(`${base}/obj`))!, data);
        expect(await store.tryGet(`${base}/obj/below`)).toBeUndefined();
      });

      test('getFile of an absent object leaves no file behind', async () => {
        const dir = path.join(localDir, `absent-${randomBytes(4).toString('hex')}`);
        await fs.promises.mkdir(dir);
        const dst = path.join(dir, 'out');
        await expect(store.getFile(`${fresh('absent')}/nothing`, dst)).rejects.toBeInstanceOf(BlobNotFoundError);
        expect(await fs.promises.readdir(dir)).toEqual([]);
      });

      test('an object "under" another object name or a prefix is absent', async () => {
        const base = fresh('absent');
        await store.put(`${base}/dir/obj`, Uint8Array.of(1));
        await expect(store.get(`${base}/dir/obj/below`)).rejects.toBeInstanceOf(BlobNotFoundError);
        await expect(store.get(`${base}/dir`)).rejects.toBeInstanceOf(BlobNotFoundError);
        expect(await store.head(`${base}/dir`)).toBeNull();
      });

      test('delete removes an object; deleting an absent one is fine', async () => {
        const base = fresh('delete');
        await store.delete(`${base}/never-written`);
        await store.put(`${base}/obj`, Uint8Array.of(1));
        await store.delete(`${base}/obj`);
        await expect(store.get(`${base}/obj`)).rejects.toBeInstanceOf(BlobNotFoundError);
        expect(await store.head(`${base}/obj`)).toBeNull();
        expect(await collect(store.list(`${base}/`))).toEqual([]);
        await store.delete(`${base}/obj`);
      });

      test('list of a prefix with nothing under it is empty', async () => {
        expect(await collect(store.list(`${fresh('empty')}/`))).toEqual([]);
        expect(await collect(store.list(`${fresh('empty')}/deeper/still`))).toEqual([]);
      });
    });

    describe('conditional writes', () => {
      test('ifNoneMatch creates once; the second attempt fails and changes nothing', async () => {
        const uri = `${fresh('inm')}/obj`;
        const first = await store.put(uri, Uint8Array.of(1), { ifNoneMatch: '*' });
        const e = await store.put(uri, Uint8Array.of(2), { ifNoneMatch: '*' }).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(e).toBeInstanceOf(PreconditionFailedError);
        expect((e as PreconditionFailedError).uri).toBe(uri);
        expectBytes(await store.get(uri), Uint8Array.of(1));
        expect((await store.head(uri))!.etag).toBe(first.etag);
      });

      test('ifMatch with the current etag replaces and returns a new etag', async () => {
        const uri = `${fresh('im')}/obj`;
        const v1 = await store.put(uri, Uint8Array.of(1));
        const v2 = await store.put(uri, Uint8Array.of(2), { ifMatch: v1.etag });
        expect(v2.etag).not.toBe(v1.etag);
        expectBytes(await store.get(uri), Uint8Array.of(2));
        expect((await store.head(uri))!.etag).toBe(v2.etag);
        const v3 = await store.put(uri, Uint8Array.of(3), { ifMatch: v2.etag });
        expect(v3.etag).not.toBe(v2.etag);
      });

      test('ifMatch with a stale etag fails and leaves the content', async () => {
        const uri = `${fresh('im')}/obj`;
        const v1 = await store.put(uri, Uint8Array.of(1));
        await store.put(uri, Uint8Array.of(2));
        await expect(store.put(uri, Uint8Array.of(3), { ifMatch: v1.etag })).rejects.toBeInstanceOf(
          PreconditionFailedError,
        );
        expectBytes(await store.get(uri), Uint8Array.of(2));
      });

      test('ifMatch on an absent object fails (also after a delete)', async () => {
        const base = fresh('im');
        await expect(store.put(`${base}/never/obj`, Uint8Array.of(1), { ifMatch: 'whatever' })).rejects.toBeInstanceOf(
          PreconditionFailedError,
        );
        const v1 = await store.put(`${base}/obj`, Uint8Array.of(1));
        await store.delete(`${base}/obj`);
        await expect(store.put(`${base}/obj`, Uint8Array.of(2), { ifMatch: v1.etag })).rejects.toBeInstanceOf(
          PreconditionFailedError,
        );
        expect(await store.head(`${base}/obj`)).toBeNull();
      });

      test('putFile honours ifNoneMatch and ifMatch', async () => {
        const uri = `${fresh('pf')}/obj`;
        const local = path.join(localDir, `pf-${randomBytes(4).toString('hex')}`);
        await fs.promises.writeFile(local, 'one');
        const v1 = await store.putFile(local, uri, { ifNoneMatch: '*' });
        await expect(store.putFile(local, uri, { ifNoneMatch: '*' })).rejects.toBeInstanceOf(PreconditionFailedError);
        await fs.promises.writeFile(local, 'two');
        const v2 = await store.putFile(local, uri, { ifMatch: v1.etag });
        await expect(store.putFile(local, uri, { ifMatch: v1.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
        expect(new TextDecoder().decode(await store.get(uri))).toBe('two');
        expect((await store.head(uri))!.etag).toBe(v2.etag);
        await fs.promises.rm(local);
      });

      test('the etag changes on every write, even of the same bytes', async () => {
        const uri = `${fresh('etag')}/obj`;
        const etags = new Set<string>();
        for (let i = 0; i < 20; i++) etags.add((await store.put(uri, Uint8Array.of(1, 2, 3))).etag);
        expect(etags.size).toBe(20);
      });

      test('an old etag never matches a later version with the same bytes (no ABA)', async () => {
        // Filesystems recycle inode numbers at once and timestamps tick coarsely, so a naive
        // ino+mtime+size etag repeats exactly here.
        const uri = `${fresh('aba')}/obj`;
        for (let i = 0; i < 30; i++) {
          const a = await store.put(uri, Uint8Array.of(1));
          await store.put(uri, Uint8Array.of(2));
          await store.put(uri, Uint8Array.of(1));
          await expect(store.put(uri, Uint8Array.of(3), { ifMatch: a.etag })).rejects.toBeInstanceOf(
            PreconditionFailedError,
          );
        }
      });

      test('20 concurrent ifNoneMatch creates: exactly one wins and its bytes stay', async () => {
        const uri = `${fresh('race')}/obj`;
        const outcomes = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) => store.put(uri, Uint8Array.of(i, i, i), { ifNoneMatch: '*' })),
        );
        const winners = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
        expect(winners).toHaveLength(1);
        for (const o of outcomes) {
          if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(PreconditionFailedError);
        }
        const w = winners[0]!;
        expectBytes(await store.get(uri), Uint8Array.of(w, w, w));
      });

      test('concurrent compare-and-swap increments lose no update', async () => {
        const uri = `${fresh('cas')}/counter`;
        await store.put(uri, new TextEncoder().encode('0'));
        const writers = 8;
        const rounds = 10;
        await Promise.all(
          Array.from({ length: writers }, async () => {
            for (let r = 0; r < rounds; r++) await casIncrement(store, uri);
          }),
        );
        expect(new TextDecoder().decode(await store.get(uri))).toBe(String(writers * rounds));
      });
    });

    describe('list', () => {
      const keys = ['a-b', 'a.b', 'a/b', 'a/c/d', 'a0', 'ab', 'abc/x', 'abc/y.z', 'abd', 'b', 'b.txt', 'ba/z', 'c@d=e'];

      test('is lexicographic and honours the prefix, also one ending mid-name', async () => {
        const base = fresh('list');
        await Promise.all(keys.map((k) => store.put(`${base}/${k}`, new TextEncoder().encode(k))));
        const all = keys.map((k) => `${base}/${k}`);
        // '-' < '.' < '/' < '0': a naive per-directory walk gets this wrong.
        expect(await collect(store.list(`${base}/`))).toEqual(all);
        const expectUnder = (p: string) => all.filter((u) => u.startsWith(`${base}/${p}`));
        for (const p of [
          'a',
          'a/',
          'a/c',
          'ab',
          'abc',
          'abc/',
          'abc/y',
          'b',
          'b.',
          'ba/z',
          'c',
          'zzz',
          'a/c/d/deeper',
        ]) {
          expect(await collect(store.list(`${base}/${p}`)), `prefix ${p}`).toEqual(expectUnder(p));
        }
        expect(expectUnder('ab')).toEqual([`${base}/ab`, `${base}/abc/x`, `${base}/abc/y.z`, `${base}/abd`]);
        // Without the trailing '/', the base's siblings would match too: only this run's are ours.
        expect((await collect(store.list(base))).filter((u) => u.startsWith(`${base}/`))).toEqual(all);
      });

      test('every listed URI is readable as listed', async () => {
        const base = fresh('list');
        await store.put(`${base}/x/y`, Uint8Array.of(9));
        const [uri] = await collect(store.list(`${base}/`));
        expectBytes(await store.get(uri!), Uint8Array.of(9));
      });

      test('goes past 1000 keys (pagination)', async () => {
        const base = fresh('page');
        const n = 1100;
        const all = Array.from(
          { length: n },
          (_, i) => `${base}/${i % 2 ? 'odd' : 'even'}/k${String(i).padStart(4, '0')}`,
        );
        await forEachLimited(all, 32, (u) => store.put(u, Uint8Array.of(1)));
        const listed = await collect(store.list(`${base}/`));
        expect(listed.length).toBe(n);
        expect(listed).toEqual([...all].sort());
      });
    });

    describe('integrity', () => {
      const sha256Hex = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

      test('head reports the sha256 of the bytes (stores that keep one)', async (ctx) => {
        if (!reportsSha256) return ctx.skip();
        for (const data of [new Uint8Array(0), Uint8Array.of(5), randomBytes(300 * 1024)]) {
          const uri = `${fresh('sha')}/obj`;
          await store.put(uri, data);
          expect((await store.head(uri))!.sha256).toBe(sha256Hex(data));
          const local = path.join(localDir, `sha-${randomBytes(4).toString('hex')}`);
          await fs.promises.writeFile(local, data);
          await store.putFile(local, uri);
          expect((await store.head(uri))!.sha256).toBe(sha256Hex(data));
          if (store.getVersioned) expect((await store.getVersioned(uri)).sha256).toBe(sha256Hex(data));
        }
      });

      const cases: Array<[string, () => Uint8Array, (data: Uint8Array) => Uint8Array]> = [
        [
          'a value byte changed from 05 to 06',
          () => Uint8Array.of(0x82, 0x01, 0x05),
          (d) => d.map((b, i) => (i === 2 ? 6 : b)),
        ],
        [
          'text turned into invalid UTF-8',
          () => new TextEncoder().encode('"héllo"'),
          (d) => d.map((b) => (b >= 0x80 ? 0xff : b)),
        ],
        [
          'the last byte of 5 MiB flipped',
          () => randomBytes(5 * 1024 * 1024),
          (d) => d.map((b, i) => (i === d.length - 1 ? b ^ 1 : b)),
        ],
        ['cut short', () => randomBytes(1000), (d) => d.subarray(0, 999)],
      ];
      for (const [label, make, mutate] of cases) {
        test(`corruption is an IntegrityError naming the URI on get, getVersioned, tryGet, getFile: ${label}`, async (ctx) => {
          if (!corrupt) return ctx.skip();
          const uri = `${fresh('corrupt')}/result`;
          await store.put(uri, make());
          await corrupt(uri, mutate);
          const reads: Array<[string, () => Promise<unknown>]> = [
            ['get', () => store.get(uri)],
            ['getVersioned', () => store.getVersioned?.(uri) ?? Promise.reject(new IntegrityError(uri, '-', '-'))],
            ['tryGet', () => store.tryGet?.(uri) ?? Promise.reject(new IntegrityError(uri, '-', '-'))],
          ];
          for (const [name, read] of reads) {
            const err = await read().then(
              () => undefined,
              (e: unknown) => e,
            );
            expect(err, name).toBeInstanceOf(IntegrityError);
            expect((err as IntegrityError).code).toBe('MEMOCALL_INTEGRITY');
            expect((err as IntegrityError).uri).toBe(uri);
            expect((err as Error).message).toContain(uri);
          }
          const dir = path.join(localDir, `corrupt-${randomBytes(4).toString('hex')}`);
          await fs.promises.mkdir(dir);
          await expect(store.getFile(uri, path.join(dir, 'out'))).rejects.toBeInstanceOf(IntegrityError);
          expect(await fs.promises.readdir(dir)).toEqual([]); // no partial or unverified file left
          // A new version replaces the damaged one through the normal write path.
          await store.put(uri, Uint8Array.of(1));
          expectBytes(await store.get(uri), Uint8Array.of(1));
        });
      }
    });

    describe('atomic visibility', () => {
      test('a reader polling during a 5 MiB put sees the old or the new object, never a mix', async () => {
        const uri = `${fresh('vis')}/obj`;
        const size = 5 * 1024 * 1024;
        const v1 = new Uint8Array(size).fill(1);
        const v2 = new Uint8Array(size).fill(2);
        // First the creation (absent → whole), then the replacement (old whole → new whole).
        for (const [data, before] of [
          [v1, null],
          [v2, 1],
        ] as const) {
          let done = false;
          let reads = 0;
          const writing = store.put(uri, data).finally(() => {
            done = true;
          });
          while (!done) {
            const got = await store.get(uri).catch((err: unknown) => {
              if (before === null && err instanceof BlobNotFoundError) return null;
              throw err;
            });
            if (got !== null) checkUniform(got, size, before === null ? [1] : [1, 2]);
            reads++;
            await new Promise((resolve) => setImmediate(resolve)); // let the write progress
          }
          await writing;
          expect(reads).toBeGreaterThan(0);
          checkUniform(await store.get(uri), size, [data[0]!]);
        }
      });
    });
  });
}

/** Bytes and their etag, through getVersioned or (for stores without it) head + get + head. */
export async function readVersioned(store: BlobStore, uri: string): Promise<VersionedBlob> {
  if (store.getVersioned) return store.getVersioned(uri);
  for (;;) {
    const before = await store.head(uri);
    if (before === null) throw new BlobNotFoundError(uri);
    const data = await store.get(uri);
    const after = await store.head(uri);
    if (after?.etag === before.etag) return { data, ...after };
  }
}

/** Read, add one, write back only if nobody wrote in between; retry otherwise. */
export async function casIncrement(store: BlobStore, uri: string): Promise<void> {
  for (;;) {
    const { data, etag } = await readVersioned(store, uri);
    const next = Number(new TextDecoder().decode(data)) + 1;
    try {
      await store.put(uri, new TextEncoder().encode(String(next)), { ifMatch: etag });
      return;
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
    }
  }
}

function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual).toBeInstanceOf(Uint8Array);
  expect(actual.byteLength).toBe(expected.byteLength);
  // Buffer.compare instead of toEqual: deep equality on megabytes is slow and prints badly.
  expect(Buffer.compare(Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength), Buffer.from(expected))).toBe(
    0,
  );
}

function checkUniform(data: Uint8Array, size: number, allowed: number[]): void {
  if (data.byteLength !== size) throw new Error(`partial object: ${data.byteLength} of ${size} bytes`);
  const first = data[0]!;
  if (!allowed.includes(first)) throw new Error(`unexpected version ${first}`);
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (view.indexOf(first === 1 ? 2 : 1) !== -1 || view.indexOf(0) !== -1) throw new Error('mixed versions in one read');
}

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
