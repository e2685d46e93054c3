// A process caught in the middle of a cache fill: its store's getFile writes 1 MiB to the fill's
// temp file, prints "partial <tmp file>" and never finishes. The test kills it there (SIGKILL).
// argv: <cacheDir>
import fs from 'node:fs';
import type { BlobStore } from '../../src/blobstore/blob-store.js';
import { registerBlobStore } from '../../src/blobstore/registry.js';
import { DownloadCache } from '../../src/cache/download-cache.js';

const hanging = {
  async head() {
    return { size: 4 * 1024 * 1024, etag: 'v1', lastModified: new Date() };
  },
  async getFile(_uri: string, localPath: string) {
    fs.writeFileSync(localPath, Buffer.alloc(1024 * 1024, 7));
    process.stdout.write(`partial ${localPath}\n`);
    await new Promise(() => {}); // the transfer never ends
  },
} as unknown as BlobStore;
registerBlobStore('hanging', () => hanging);

const cache = new DownloadCache({ dir: process.argv[2]!, progress: { delayMs: 1e9 } });
await cache.fetch('hanging://store/big-object');
