import { randomBytes } from 'node:crypto';
import { configureCloudStores } from '../../src/blobstore/cloud/cloud-stores.js';
import {
  PROVIDE_KEY,
  TEST_BUCKET,
  TEST_CONTAINER,
  killOnExit,
  startAzurite,
  startRgw,
  type AzureServer,
  type CloudServers,
  type RunningServer,
  type S3Server,
} from '../support/servers.js';

/**
 * S3 (Ceph RGW) and Azure (azurite) for the file and cache suites: the servers of the run's
 * global setup when it provides them, else servers this test file starts and stops itself.
 * The endpoints also go into the environment, so child processes (`memocall run`, cache
 * fetchers) reach the same store through the stores' own environment defaults.
 */

async function injected(): Promise<CloudServers | undefined> {
  try {
    const { inject } = await import('vitest');
    return (inject as unknown as (key: string) => CloudServers | undefined)(PROVIDE_KEY);
  } catch {
    return undefined;
  }
}

export interface CloudSetup {
  root: string;
}

// Servers this file started, shared by every suite of the test file (one Ceph per process is
// plenty, and two starting at once compete for the machine); stopped by `stopCloudServers`.
let azure: Promise<AzureServer> | undefined;
let s3: Promise<S3Server> | undefined;
const started: Array<RunningServer<unknown>> = [];

/** Stops the servers started here (call in the test file's afterAll). */
export async function stopCloudServers(): Promise<void> {
  for (const server of started.splice(0)) await server.stop();
  azure = undefined;
  s3 = undefined;
}

async function startOwn<T>(start: () => Promise<RunningServer<T>>): Promise<T> {
  const server = await start();
  started.push(server as RunningServer<unknown>);
  killOnExit(() => server.pids());
  return server.info;
}

export async function azureSetup(label: string): Promise<CloudSetup> {
  const info = (await injected())?.azure ?? (await (azure ??= startOwn(startAzurite)));
  const { BlobServiceClient } = await import('@azure/storage-blob');
  await BlobServiceClient.fromConnectionString(info.connectionString)
    .getContainerClient(TEST_CONTAINER)
    .createIfNotExists();
  process.env.AZURE_STORAGE_CONNECTION_STRING = info.connectionString;
  configureCloudStores({ azure: { connectionString: info.connectionString } });
  return { root: `adls://${info.account}/${TEST_CONTAINER}/${label}-${randomBytes(4).toString('hex')}` };
}

export async function s3Setup(label: string): Promise<CloudSetup> {
  const info = (await injected())?.s3 ?? (await (s3 ??= startOwn(() => startRgw())));
  Object.assign(process.env, {
    MEMOCALL_S3_ENDPOINT: info.endpoint,
    AWS_ACCESS_KEY_ID: info.accessKeyId,
    AWS_SECRET_ACCESS_KEY: info.secretAccessKey,
    AWS_REGION: info.region,
  });
  configureCloudStores({
    s3: {
      endpoint: info.endpoint,
      region: info.region,
      credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
    },
  });
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    endpoint: info.endpoint,
    region: info.region,
    forcePathStyle: true,
    credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: TEST_BUCKET }));
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
  } finally {
    client.destroy();
  }
  return { root: `s3://${TEST_BUCKET}/${label}-${randomBytes(4).toString('hex')}` };
}
