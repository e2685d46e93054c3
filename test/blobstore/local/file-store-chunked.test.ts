import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { IntegrityError } from '../../../src/blobstore/errors.js';
import { FileBlobStore } from '../../../src/blobstore/local/file-store.js';
import { HEADER_BYTES } from '../../../src/blobstore/local/object-header.js';
import { sha256, sha256Chunks, sha256Hex } from '../../../src/core/sha256.js';
import { useTempDir } from '../../support/temp-dir.js';

// Finding 10 of issue 10: one fs.read/fs.write took a whole object, which fails beyond 2^31-1
// bytes, and hashing took one buffer, which OpenSSL refuses beyond that ("data is too long").
// Both now go in chunks; here the chunk size is made tiny so the chunk loops run many times on
// small data. The real > 2 GiB round trip is in file-store-large.test.ts (MEMOCALL_TEST_LARGE=1).

const tempDir = useTempDir();
const hex = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

describe.each([
  ['7-byte chunks, all asynchronous', { chunkBytes: 7, syncLimit: 0 }],
  ['1000-byte chunks, sync up to 100 bytes', { chunkBytes: 1000, syncLimit: 100 }],
])('file store with %s', (_label, chunking) => {
  const store = new FileBlobStore({ chunking });

  for (const size of [0, 1, 6, 7, 8, 99, 100, 101, 999, 1000, 1001, 7 * 1000 + 3, 100_003]) {
    test(`${size} bytes round trip through put/get and putFile/getFile`, async () => {
      const { dir, uri } = tempDir();
      const data = randomBytes(size);
      await store.put(`${uri}/obj`, data);
      expect(fs.statSync(path.join(dir, 'obj')).size).toBe(HEADER_BYTES + size);
      expect(hex(await store.get(`${uri}/obj`))).toBe(hex(data));
      expect((await store.head(`${uri}/obj`))?.sha256).toBe(hex(data));
      fs.writeFileSync(path.join(dir, 'local'), data);
      await store.putFile(path.join(dir, 'local'), `${uri}/copy`);
      expect(hex(await store.get(`${uri}/copy`))).toBe(hex(data));
      await store.getFile(`${uri}/copy`, path.join(dir, 'out', 'file'));
      expect(hex(fs.readFileSync(path.join(dir, 'out', 'file')))).toBe(hex(data));
    });
  }

  test('a flipped byte in a late chunk is found by get and getFile', async () => {
    const { dir, uri } = tempDir();
    await store.put(`${uri}/obj`, randomBytes(5000));
    const fd = fs.openSync(path.join(dir, 'obj'), 'r+');
    const at = HEADER_BYTES + 4321;
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, at);
    b[0]! ^= 0x40;
    fs.writeSync(fd, b, 0, 1, at);
    fs.closeSync(fd);
    await expect(store.get(`${uri}/obj`)).rejects.toBeInstanceOf(IntegrityError);
    await expect(store.getFile(`${uri}/obj`, path.join(dir, 'out'))).rejects.toBeInstanceOf(IntegrityError);
    expect(fs.existsSync(path.join(dir, 'out'))).toBe(false);
  });
});

test('a chunk size of 2 GiB or more is refused (one fs call cannot take it)', () => {
  expect(() => new FileBlobStore({ chunking: { chunkBytes: 2 ** 31 } })).toThrow(/chunkBytes/);
});

describe('SHA-256 of data fed in slices', () => {
  test('matches the one-shot hash for slice sizes around the data size', () => {
    const data = randomBytes(10_000);
    const expected = hex(data);
    for (const slice of [1, 7, 4096, 9_999, 10_000, 10_001]) {
      expect(Buffer.from(sha256Chunks([data], slice)).toString('hex'), `slice ${slice}`).toBe(expected);
      expect(Buffer.from(sha256Chunks([data.subarray(0, 3), data.subarray(3)], slice)).toString('hex')).toBe(expected);
    }
    expect(Buffer.from(sha256(data)).toString('hex')).toBe(expected);
    expect(sha256Hex(data)).toBe(expected);
  });
});
