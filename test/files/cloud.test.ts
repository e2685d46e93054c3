import { afterAll, describe } from 'vitest';
import { lookupBlobStore } from '../../src/blobstore/registry.js';
import { skipRequested } from '../support/servers.js';
import { describeDownloadCache } from '../cache/download-cache-suite.js';
import { azureSetup, s3Setup, stopCloudServers } from './cloud-setups.js';
import { describeFileValues } from './file-values-suite.js';

// The file-value and download-cache suites on the cloud stores (through samethread and child
// processes, 8-process fetch included), in one file so that one server of each kind serves
// them all. Skipped only with MEMOCALL_TEST_SKIP=s3 / azure / cloud.
afterAll(stopCloudServers);

describe.skipIf(skipRequested('azure'))('on Azure (azurite)', () => {
  describeFileValues('adls:// (azurite)', async () => ({ blobRoot: (await azureSetup('files')).root }), {
    subprocess: true,
  });
  describeDownloadCache(
    'adls:// (azurite)',
    async () => {
      const { root } = await azureSetup('cache');
      return { root, store: lookupBlobStore(root) };
    },
    { crossProcess: true },
  );
});

describe.skipIf(skipRequested('s3'))('on S3 (Ceph RGW)', () => {
  describeFileValues('s3:// (Ceph RGW)', async () => ({ blobRoot: (await s3Setup('files')).root }), {
    subprocess: true,
  });
  describeDownloadCache(
    's3:// (Ceph RGW)',
    async () => {
      const { root } = await s3Setup('cache');
      return { root, store: lookupBlobStore(root) };
    },
    { crossProcess: true },
  );
});
