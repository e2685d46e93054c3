/**
 * vitest globalSetup: starts Ceph RGW (S3) and azurite (Azure) once per test run on free
 * loopback ports, creates the test bucket/container, provides the endpoints to test files
 * (`cloudServers()` in servers.ts) and stops every process at the end.
 *
 * Cheap when not needed: servers start only if a selected test file imports `support/servers`
 * (so `vitest run test/core` costs nothing), and a kind listed in MEMOCALL_TEST_SKIP is never
 * started. A server that should start and cannot fails the run with the reason.
 */
import { readFile } from 'node:fs/promises';
import type { TestProject } from 'vitest/node';
import { ensureDebianTools } from './debian-tools.js';
import {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  PROVIDE_KEY,
  SKIP_ENV,
  TEST_BUCKET,
  TEST_CONTAINER,
  azuriteConnectionString,
  killOnExit,
  skipRequested,
  startAzurite,
  startRgw,
  type AzureServer,
  type CloudServers,
  type RunningServer,
  type S3Server,
} from './servers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    memocallCloud: CloudServers;
  }
}

const log = (line: string): void => {
  process.stderr.write(`[memocall servers] ${line}\n`);
};

/** Whether any test file of this run uses the cloud servers (imports test/support/servers). */
async function cloudTestsSelected(project: TestProject): Promise<boolean> {
  try {
    // `filenamePattern` holds the CLI filters (vitest 4 sets it before global setup runs).
    const filters = (project.vitest as unknown as { filenamePattern?: string[] }).filenamePattern;
    const specs = await project.vitest.getRelevantTestSpecifications(filters);
    for (const spec of specs) {
      const source = await readFile(spec.moduleId, 'utf8').catch(() => '');
      if (/support\/servers(\.js|\.ts)?['"]/.test(source)) return true;
    }
    return false;
  } catch {
    return true; // when in doubt, start them: a missing server is a failure, a spare one is not
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The SDK's notice that future releases need Node 22 is noise in test output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  await ensureDebianTools(log);
  const wantS3 = !skipRequested('s3');
  const wantAzure = !skipRequested('azure');
  const running: RunningServer<unknown>[] = [];
  const stopAll = async (): Promise<void> => {
    const all = running.splice(0);
    await Promise.all(
      all.map((server) => server.stop().catch((error: unknown) => log(`stop failed: ${String(error)}`))),
    );
  };
  const forgetExitHook = killOnExit(() => running.flatMap((server) => server.pids()));

  const provided: CloudServers = {};
  if ((wantS3 || wantAzure) && (await cloudTestsSelected(project))) {
    const started = Date.now();
    const [rgw, azurite] = await Promise.allSettled([
      wantS3 ? (existingS3() ?? startRgw({ log })) : Promise.resolve(undefined),
      wantAzure ? (existingAzure() ?? startAzurite()) : Promise.resolve(undefined),
    ]);
    for (const result of [rgw, azurite]) {
      if (result.status === 'fulfilled' && result.value) running.push(result.value as RunningServer<unknown>);
    }
    const failures = [rgw, azurite].filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failures.length > 0) {
      await stopAll();
      forgetExitHook();
      throw new Error(failures.map((f) => (f.reason as Error).message).join('\n\n'));
    }
    try {
      if (rgw.status === 'fulfilled' && rgw.value) {
        provided.s3 = rgw.value.info;
        await createBucket(rgw.value.info);
      }
      if (azurite.status === 'fulfilled' && azurite.value) {
        provided.azure = azurite.value.info;
        await createContainer(azurite.value.info);
      }
    } catch (error) {
      await stopAll();
      forgetExitHook();
      throw error;
    }
    log(
      `ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ` +
        [
          provided.s3 ? `S3 ${provided.s3.endpoint}` : `S3 skipped (${SKIP_ENV})`,
          provided.azure ? `Azure ${provided.azure.blobEndpoint}` : `Azure skipped (${SKIP_ENV})`,
        ].join(', '),
    );
  }
  project.provide(PROVIDE_KEY, provided);

  return async () => {
    await stopAll();
    forgetExitHook();
  };
}

/**
 * MEMOCALL_TEST_S3=<endpoint>,<access key>,<secret> uses a server that is already running
 * (a developer's, between runs) instead of starting Ceph; nothing is stopped at the end.
 */
function existingS3(): Promise<RunningServer<S3Server>> | undefined {
  const value = process.env.MEMOCALL_TEST_S3;
  if (!value) return undefined;
  const [endpoint, accessKeyId, secretAccessKey] = value.split(',');
  if (!endpoint || !accessKeyId || !secretAccessKey)
    throw new Error('MEMOCALL_TEST_S3 must be <endpoint>,<access key>,<secret>');
  return Promise.resolve({
    info: { endpoint, accessKeyId, secretAccessKey, region: 'us-east-1' },
    pids: () => [],
    stop: async () => undefined,
  });
}

/** MEMOCALL_TEST_AZURE=<blob endpoint with account path> uses a running azurite (dev key). */
function existingAzure(): Promise<RunningServer<AzureServer>> | undefined {
  const blobEndpoint = process.env.MEMOCALL_TEST_AZURE;
  if (!blobEndpoint) return undefined;
  const info: AzureServer = {
    blobEndpoint,
    account: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    connectionString: azuriteConnectionString(blobEndpoint),
  };
  return Promise.resolve({ info, pids: () => [], stop: async () => undefined });
}

async function createBucket(s3: S3Server): Promise<void> {
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: TEST_BUCKET }));
  } catch (error) {
    // A reused server (MEMOCALL_TEST_S3) already has it.
    const name = (error as { name?: string }).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
  } finally {
    client.destroy();
  }
}

async function createContainer(azure: AzureServer): Promise<void> {
  const { BlobServiceClient } = await import('@azure/storage-blob');
  await BlobServiceClient.fromConnectionString(azure.connectionString)
    .getContainerClient(TEST_CONTAINER)
    .createIfNotExists();
}
