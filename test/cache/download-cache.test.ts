import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { lookupBlobStore } from '../../src/blobstore/registry.js';
import '../../src/blobstore/builtin-stores.js';
import { describeDownloadCache } from './download-cache-suite.js';

describeDownloadCache(
  'file://',
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memocall-cache-store-'));
    const root = pathToFileURL(dir).href;
    return {
      root,
      store: lookupBlobStore(root),
      teardown: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  },
  { crossProcess: true },
);

describeDownloadCache(
  'memory://',
  async () => {
    const root = `memory://cache-test-${process.pid}`;
    return { root, store: lookupBlobStore(root) };
  },
  { crossProcess: false },
);
