import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { FileBlobStore } from '../../../src/blobstore/local/file-store.js';
import { sha256 } from '../../../src/core/sha256.js';
import { useTempDir } from '../../support/temp-dir.js';

// A real object above 2 GiB through the file store (finding 10 of issue 10): minutes on a loaded
// machine and 4+ GiB of memory, so it runs only with MEMOCALL_TEST_LARGE=1. The chunk logic
// itself is tested with tiny chunks in file-store-chunked.test.ts.

const tempDir = useTempDir();
const SIZE = 2.1 * 1024 ** 3;

test.runIf(process.env.MEMOCALL_TEST_LARGE === '1')(
  'a 2.1 GiB object round trips through put/get and getFile, and hashes in one call',
  async () => {
    const { dir, uri } = tempDir();
    const store = new FileBlobStore();
    const data = Buffer.allocUnsafeSlow(Math.round(SIZE));
    data.fill(randomBytes(1024 * 1024));
    const digest = Buffer.from(sha256(data)).toString('hex'); // more than OpenSSL takes in one update
    await store.put(`${uri}/big`, data);
    expect((await store.head(`${uri}/big`))?.sha256).toBe(digest);
    const back = await store.get(`${uri}/big`);
    expect(back.byteLength).toBe(data.byteLength);
    expect(Buffer.compare(data, Buffer.from(back.buffer, back.byteOffset, back.byteLength))).toBe(0);
    await store.getFile(`${uri}/big`, path.join(dir, 'copy'));
    const hash = createHash('sha256');
    for await (const chunk of fs.createReadStream(path.join(dir, 'copy'))) hash.update(chunk as Buffer);
    expect(hash.digest('hex')).toBe(digest);
  },
  15 * 60_000,
);
