import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HEADER_BYTES } from '../../src/blobstore/local/object-header.js';
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
    reportsSha256: true,
    // In place (same inode), as a disk error would: the header and its digest stay.
    corrupt: async (uri, mutate) => {
      const file = fileURLToPath(uri);
      const raw = await fs.promises.readFile(file);
      const data = mutate(new Uint8Array(raw.subarray(HEADER_BYTES)));
      const fd = await fs.promises.open(file, 'r+');
      try {
        await fd.write(data, 0, data.byteLength, HEADER_BYTES);
        await fd.truncate(HEADER_BYTES + data.byteLength);
      } finally {
        await fd.close();
      }
    },
  };
});
