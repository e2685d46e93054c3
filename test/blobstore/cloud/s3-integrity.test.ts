import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { sha256 } from '@noble/hashes/sha2.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { IntegrityError, MissingIntegrityError, S3_SHA256_KEY } from '../../../src/blobstore/cloud/integrity.js';
import { S3Store } from '../../../src/blobstore/cloud/s3-store.js';
import { TEST_BUCKET, s3Server, skipRequested } from '../../support/servers.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe.skipIf(skipRequested('s3'))('S3 integrity against Ceph RGW', () => {
  let store: S3Store;
  let dir: string;
  let base: string;

  beforeAll(async () => {
    const s3 = await s3Server();
    store = new S3Store({
      endpoint: s3.endpoint,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      partSizeBytes: 5 * 1024 * 1024,
    });
    dir = await mkdtemp(join(tmpdir(), 'memocall-s3-integrity-'));
    base = `s3://${TEST_BUCKET}/integrity-${randomBytes(4).toString('hex')}`;
  });

  afterAll(async () => {
    store?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  /** Replaces the object's bytes with the raw SDK, keeping memocall's metadata (sha256 included). */
  const tamper = async (uri: string, body: Uint8Array): Promise<void> => {
    const key = uri.slice(`s3://${TEST_BUCKET}/`.length);
    const head = await store.client.send(new HeadObjectCommand({ Bucket: TEST_BUCKET, Key: key }));
    await store.client.send(
      new PutObjectCommand({ Bucket: TEST_BUCKET, Key: key, Body: body, Metadata: head.Metadata }),
    );
  };

  test('the stored sha256 is the content digest (node:crypto and @noble/hashes agree)', async () => {
    const data = randomBytes(100_000);
    const uri = `${base}/digest`;
    await store.put(uri, data);
    const head = await store.client.send(
      new HeadObjectCommand({ Bucket: TEST_BUCKET, Key: uri.slice(`s3://${TEST_BUCKET}/`.length) }),
    );
    expect(head.Metadata?.[S3_SHA256_KEY]).toBe(hex(sha256(data)));
    // The ETag is not a SHA-256 of anything: it is never used as one.
    expect(head.ETag?.replaceAll('"', '')).not.toBe(hex(sha256(data)));
  });

  test('an object changed out of band (same size, one byte) is refused by get, getVersioned and getFile', async () => {
    const data = randomBytes(50_000);
    const uri = `${base}/small`;
    await store.put(uri, data);
    const changed = Buffer.from(data);
    changed[12_345] = (changed[12_345] ?? 0) ^ 1;
    await tamper(uri, changed);
    await expect(store.get(uri)).rejects.toBeInstanceOf(IntegrityError);
    await expect(store.getVersioned(uri)).rejects.toBeInstanceOf(IntegrityError);
    const out = join(dir, 'small-out');
    await expect(store.getFile(uri, out)).rejects.toBeInstanceOf(IntegrityError);
    expect(await readdir(dir)).toEqual([]); // nothing, not even a partial file
  });

  test('a large object changed out of band is refused by the parallel ranged download', async () => {
    const data = randomBytes(17 * 1024 * 1024); // 4 parts of 5 MiB
    const src = join(dir, 'big-src');
    await writeFile(src, data);
    const uri = `${base}/big`;
    await store.putFile(src, uri);
    await rm(src);
    const changed = Buffer.from(data);
    changed[16 * 1024 * 1024] = (changed[16 * 1024 * 1024] ?? 0) ^ 0xff; // in the last part
    await tamper(uri, changed);
    await expect(store.getFile(uri, join(dir, 'big-out'))).rejects.toBeInstanceOf(IntegrityError);
    expect(await readdir(dir)).toEqual([]);
    await expect(store.get(uri)).rejects.toBeInstanceOf(IntegrityError);
  });

  test('tampered metadata (a forged or malformed digest) is refused too', async () => {
    const uri = `${base}/forged`;
    await store.put(uri, Uint8Array.of(1, 2, 3));
    const key = uri.slice(`s3://${TEST_BUCKET}/`.length);
    await store.client.send(
      new PutObjectCommand({
        Bucket: TEST_BUCKET,
        Key: key,
        Body: Uint8Array.of(1, 2, 3),
        Metadata: { [S3_SHA256_KEY]: 'not-a-digest' },
      }),
    );
    await expect(store.get(uri)).rejects.toBeInstanceOf(IntegrityError);
  });

  test('objects written by other tools (no digest) are returned, or refused when integrity is required', async () => {
    const uri = `${base}/foreign`;
    const key = uri.slice(`s3://${TEST_BUCKET}/`.length);
    await store.client.send(new PutObjectCommand({ Bucket: TEST_BUCKET, Key: key, Body: Uint8Array.of(7, 7) }));
    expect([...(await store.get(uri))]).toEqual([7, 7]);
    const s3 = await s3Server();
    const strict = new S3Store({
      endpoint: s3.endpoint,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      requireIntegrity: true,
    });
    try {
      await expect(strict.get(uri)).rejects.toBeInstanceOf(MissingIntegrityError);
    } finally {
      strict.destroy();
    }
  });
});
