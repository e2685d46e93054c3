import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { lookupBlobStore } from '../../src/blobstore/registry.js';
import { describeBlobStoreConformance } from './blob-store-conformance.js';

// Through the registry, as the runner gets it.
describeBlobStoreConformance('file://', async () => {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'memocall-file-store-'));
  const root = pathToFileURL(dir).href;
  return {
    root,
    store: lookupBlobStore(root),
    teardown: () => fs.promises.rm(dir, { recursive: true, force: true }),
  };
});
