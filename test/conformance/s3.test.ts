import { randomBytes } from 'node:crypto';
import { describe } from 'vitest';
import { configureCloudStores } from '../../src/blobstore/cloud/cloud-stores.js';
import { lookupBlobStore } from '../../src/blobstore/registry.js';
import { TEST_BUCKET, s3Server, skipRequested } from '../support/servers.js';
import { describeBlobStoreConformance } from './blob-store-conformance.js';

// Against a real Ceph RADOS Gateway started by the global setup, through the registry (the
// lazy s3:// proxy), as the runner gets it. Skipped only with MEMOCALL_TEST_SKIP=s3.
describe.skipIf(skipRequested('s3'))('s3 store on Ceph RGW', () => {
  describeBlobStoreConformance('s3:// (Ceph RGW)', async () => {
    const s3 = await s3Server();
    configureCloudStores({
      s3: {
        endpoint: s3.endpoint,
        region: s3.region,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
        // Small parts so the 64 MiB case really goes through multipart upload and ranged reads.
        partSizeBytes: 8 * 1024 * 1024,
      },
    });
    const root = `s3://${TEST_BUCKET}/conformance-${randomBytes(4).toString('hex')}`;
    return { root, store: lookupBlobStore(root) };
  });
});
