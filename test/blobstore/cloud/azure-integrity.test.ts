import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { sha256 } from '@noble/hashes/sha2.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AzureStore } from '../../../src/blobstore/cloud/azure-store.js';
import { AZURE_SHA256_KEY, IntegrityError, MissingIntegrityError } from '../../../src/blobstore/cloud/integrity.js';
import { TEST_CONTAINER, azureServer, skipRequested } from '../../support/servers.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe.skipIf(skipRequested('azure'))('Azure integrity against azurite', () => {
  let store: AzureStore;
  let raw: ContainerClient;
  let dir: string;
  let base: string;
  let prefix: string;

  beforeAll(async () => {
    const azure = await azureServer();
    store = new AzureStore({ connectionString: azure.connectionString, blockSizeBytes: 2 * 1024 * 1024 });
    raw = BlobServiceClient.fromConnectionString(azure.connectionString).getContainerClient(TEST_CONTAINER);
    dir = await mkdtemp(join(tmpdir(), 'memocall-azure-integrity-'));
    prefix = `integrity-${randomBytes(4).toString('hex')}`;
    base = `adls://${azure.account}/${TEST_CONTAINER}/${prefix}`;
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Replaces the blob's bytes with the raw SDK, keeping memocall's metadata (sha256 included). */
  const tamper = async (name: string, body: Buffer): Promise<void> => {
    const blob = raw.getBlockBlobClient(`${prefix}/${name}`);
    const { metadata } = await blob.getProperties();
    await blob.upload(body, body.byteLength, { metadata: metadata ?? {} });
  };

  test('the stored sha256 is the content digest (node:crypto and @noble/hashes agree)', async () => {
    const data = randomBytes(100_000);
    await store.put(`${base}/digest`, data);
    const { metadata } = await raw.getBlockBlobClient(`${prefix}/digest`).getProperties();
    expect(metadata?.[AZURE_SHA256_KEY]).toBe(hex(sha256(data)));
  });

  test('a blob changed out of band (same size, one byte) is refused by get, getVersioned and getFile', async () => {
    const data = randomBytes(50_000);
    await store.put(`${base}/small`, data);
    const changed = Buffer.from(data);
    changed[777] = (changed[777] ?? 0) ^ 1;
    await tamper('small', changed);
    await expect(store.get(`${base}/small`)).rejects.toBeInstanceOf(IntegrityError);
    await expect(store.getVersioned(`${base}/small`)).rejects.toBeInstanceOf(IntegrityError);
    await expect(store.getFile(`${base}/small`, join(dir, 'small-out'))).rejects.toBeInstanceOf(IntegrityError);
    expect(await readdir(dir)).toEqual([]);
  });

  test('a large blob changed out of band is refused by the parallel ranged download', async () => {
    const data = randomBytes(9 * 1024 * 1024 + 5); // 5 blocks of 2 MiB
    const src = join(dir, 'big-src');
    await writeFile(src, data);
    await store.putFile(src, `${base}/big`);
    await rm(src);
    const changed = Buffer.from(data);
    changed[3 * 1024 * 1024] = (changed[3 * 1024 * 1024] ?? 0) ^ 0xff;
    await tamper('big', changed);
    await expect(store.getFile(`${base}/big`, join(dir, 'big-out'))).rejects.toBeInstanceOf(IntegrityError);
    expect(await readdir(dir)).toEqual([]);
  });

  test('blobs written by other tools (no digest) are returned, or refused when integrity is required', async () => {
    await raw.getBlockBlobClient(`${prefix}/foreign`).upload(Buffer.from([7, 7]), 2);
    expect([...(await store.get(`${base}/foreign`))]).toEqual([7, 7]);
    const azure = await azureServer();
    const strict = new AzureStore({ connectionString: azure.connectionString, requireIntegrity: true });
    await expect(strict.get(`${base}/foreign`)).rejects.toBeInstanceOf(MissingIntegrityError);
  });
});
