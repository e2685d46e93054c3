import { randomBytes } from 'node:crypto';
import { MemoryBlobStore } from '../../src/blobstore/memory-store.js';
import { lookupBlobStore } from '../../src/blobstore/registry.js';
import { describeBlobStoreConformance } from './blob-store-conformance.js';

// Through the registry, as the runner gets it.
describeBlobStoreConformance('memory://', async () => {
  const root = `memory://conformance-${randomBytes(4).toString('hex')}`;
  const store = lookupBlobStore(root) as MemoryBlobStore;
  return {
    root,
    store,
    reportsSha256: true,
    corrupt: async (uri, mutate) => MemoryBlobStore.corruptForTests(store, uri, mutate),
  };
});
