import { randomBytes } from 'node:crypto';
import { lookupBlobStore } from '../../src/blobstore/registry.js';
import { describeBlobStoreConformance } from './blob-store-conformance.js';

// Through the registry, as the runner gets it.
describeBlobStoreConformance('memory://', async () => {
  const root = `memory://conformance-${randomBytes(4).toString('hex')}`;
  return { root, store: lookupBlobStore(root) };
});
