import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeFileValues } from './file-values-suite.js';

describeFileValues(
  'file://',
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memocall-files-store-'));
    return {
      blobRoot: pathToFileURL(dir).href,
      teardown: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  },
  { subprocess: true },
);

describeFileValues('memory://', async () => ({ blobRoot: `memory://files-${process.pid}` }), { subprocess: false });
