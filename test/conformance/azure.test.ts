import { randomBytes } from 'node:crypto';
import { describe } from 'vitest';
import { configureCloudStores } from '../../src/blobstore/cloud/cloud-stores.js';
import { lookupBlobStore } from '../../src/blobstore/registry.js';
import { TEST_CONTAINER, azureServer, skipRequested } from '../support/servers.js';
import { describeBlobStoreConformance } from './blob-store-conformance.js';

// Against azurite started by the global setup, through the registry (the lazy adls:// proxy),
// as the runner gets it. Skipped only with MEMOCALL_TEST_SKIP=azure.
describe.skipIf(skipRequested('azure'))('azure store on azurite', () => {
  describeBlobStoreConformance('adls:// (azurite)', async () => {
    const azure = await azureServer();
    configureCloudStores({
      azure: {
        connectionString: azure.connectionString,
        // Small blocks so the 64 MiB case really stages blocks and reads in ranges.
        blockSizeBytes: 4 * 1024 * 1024,
      },
    });
    const root = `adls://${azure.account}/${TEST_CONTAINER}/conformance-${randomBytes(4).toString('hex')}`;
    return { root, store: lookupBlobStore(root) };
  });
});
