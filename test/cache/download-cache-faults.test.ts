// The download cache against transfers that go wrong: a corrupted transfer, and an object
// rewritten while it is being downloaded. The store is a real memory store behind a test scheme.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { expect, test } from 'vitest';
import { lookupBlobStore } from '../../src/index.js';
import { DownloadCache } from '../../src/cache/download-cache.js';
import { readIndex } from '../../src/cache/uri-index.js';
import { CacheIntegrityError } from '../../src/cache/errors.js';
import { ObservedStore } from '../support/observed-store.js';
import { useTempDir } from '../support/temp-dir.js';

const tempDir = useTempDir();
const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
let rootNumber = 0;
const memoryRoot = () => `memory://cache-faults-${process.pid}-${rootNumber++}`;

test('a transfer corrupted once is retried, and the retry fills the entry', async () => {
  const data = randomBytes(64 * 1024);
  let transfers = 0;
  const { root } = ObservedStore.register('corruptonce', memoryRoot(), {
    async getFile(_uri, localPath, transfer) {
      await transfer(_uri, localPath);
      if (++transfers === 1) {
        const bytes = fs.readFileSync(localPath);
        bytes[1234] = bytes[1234]! ^ 0xff; // a bit flip in flight
        fs.writeFileSync(localPath, bytes);
      }
    },
  });
  const uri = `${root}/model.bin`;
  await lookupBlobStore(uri).put(uri, data);
  const cache = new DownloadCache({ dir: tempDir().dir });
  const { file, outcome } = await cache.fetchWithOutcome(uri, { sha256: sha(data), size: data.length });
  expect(outcome).toBe('downloaded');
  expect(transfers).toBe(2);
  expect(file.sha256).toBe(sha(data));
  expect(fs.readFileSync(file.path).equals(data)).toBe(true);
});

test('an object rewritten during its download is not indexed under the version first seen', async () => {
  const v1 = randomBytes(32 * 1024);
  const v2 = randomBytes(32 * 1024);
  let rewrite: (() => Promise<unknown>) | undefined;
  const { root } = ObservedStore.register('rewritten', memoryRoot(), {
    async getFile(uri, localPath, transfer) {
      const before = rewrite;
      rewrite = undefined;
      await before?.(); // another writer replaces the object after our head, before our transfer
      await transfer(uri, localPath);
    },
  });
  const uri = `${root}/data.csv`;
  const store = lookupBlobStore(uri);
  const { etag: firstEtag } = await store.put(uri, v1);
  rewrite = () => store.put(uri, v2);
  const cache = new DownloadCache({ dir: tempDir().dir });

  const first = await cache.fetchWithOutcome(uri);
  expect(first.outcome).toBe('downloaded');
  expect(first.file.sha256).toBe(sha(v2)); // the bytes it got are the new version's
  const indexed = readIndex(cache.layout, uri);
  expect(indexed?.etag).not.toBe(firstEtag); // never "version 1 has v2's content"
  expect(indexed).toBeUndefined();

  // The next fetch sees the new version, downloads it and indexes it: then it is a hit.
  const second = await cache.fetchWithOutcome(uri);
  expect(second.outcome).toBe('downloaded');
  expect(readIndex(cache.layout, uri)?.sha256).toBe(sha(v2));
  expect((await cache.fetchWithOutcome(uri)).outcome).toBe('hit');
});

test('a transfer corrupted twice fails with CacheIntegrityError after exactly two transfers, leaving no entry', async () => {
  const data = randomBytes(16 * 1024);
  let transfers = 0;
  const { root } = ObservedStore.register('corruptalways', memoryRoot(), {
    async getFile(uri, localPath, transfer) {
      await transfer(uri, localPath);
      transfers++;
      const bytes = fs.readFileSync(localPath);
      bytes[0] = bytes[0]! ^ 0xff;
      fs.writeFileSync(localPath, bytes);
    },
  });
  const uri = `${root}/broken.bin`;
  await lookupBlobStore(uri).put(uri, data);
  const cache = new DownloadCache({ dir: tempDir().dir });
  await expect(cache.fetch(uri, { sha256: sha(data) })).rejects.toBeInstanceOf(CacheIntegrityError);
  expect(transfers).toBe(2); // a second mismatch means the object itself is wrong
  expect(await cache.lookup(sha(data))).toBeUndefined();
});
