// Benchmarks of the download cache (issue 5). Run: npx tsc -p tsconfig.json && node dist/bench/files.js
//   [--mib N]          size of the test object (default 1024)
//   [--rounds N]       rounds of the cold-download comparison (default 3)
//   [--store URI]      a blob root to benchmark against instead of a fresh file:// root
//                      (s3://…, adls://… configured through the usual environment)
// Prints three figures with their targets:
//   1. cache hit of a 1 GiB object (no re-download, no full re-hash)           target ≤ 5 ms
//   2. hashing a 1 GiB local file vs node:crypto on the same bytes in memory  target ≥ 90 %
//   3. cold download into the cache vs the store's raw transfer (getFile)     target ≥ 90 %
import { createHash, randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import '../src/blobstore/builtin-stores.js';
import '../src/blobstore/cloud/cloud-stores.js';
import { lookupBlobStore } from '../src/blobstore/registry.js';
import { DownloadCache } from '../src/cache/download-cache.js';
import { sha256OfFile } from '../src/core/sha256-file.js';
import { src } from '../src/files/src-file.js';
import { configureDownloadCache } from '../src/cache/default-cache.js';
import '../src/files/register.js';
import { fmtMs, quantile } from './support.js';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '3' },
    store: { type: 'string' },
  },
});
const size = Number(values.mib) * 1024 * 1024;
const rounds = Number(values.rounds);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'memocall-bench-files-'));
const root = values.store ?? pathToFileURL(path.join(work, 'store')).href;
const store = lookupBlobStore(root);
const label = `${Math.round(size / 1024 / 1024)} MiB`;

const mbps = (bytes: number, ms: number) => `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const time = async (fn: () => Promise<unknown>): Promise<number> => {
  const t = performance.now();
  await fn();
  return performance.now() - t;
};

try {
  // The object: random bytes written in 64 MiB pieces (no 1 GiB buffer kept around).
  const localFile = path.join(work, 'object.bin');
  const fd = fs.openSync(localFile, 'w');
  const piece = Buffer.allocUnsafe(64 * 1024 * 1024);
  for (let done = 0; done < size; done += piece.byteLength) {
    randomFillSync(piece);
    fs.writeSync(fd, piece, 0, Math.min(piece.byteLength, size - done));
  }
  fs.closeSync(fd);
  const uri = `${root.replace(/\/+$/, '')}/bench-files/object.bin`;
  await store.putFile(localFile, uri);
  console.log(`object: ${label} at ${uri}`);

  // 2. Hashing: the same bytes from the file vs in memory.
  const memMs: number[] = [];
  const fileMs: number[] = [];
  {
    const inMemory = fs.readFileSync(localFile);
    for (let r = 0; r < 5; r++) {
      memMs.push(await time(async () => createHash('sha256').update(inMemory).digest('hex')));
      fileMs.push(await time(() => sha256OfFile(localFile)));
    }
  }
  const hashRatio = median(memMs) / median(fileMs);

  // 3. Cold download: raw getFile vs a fetch into an empty cache, alternating rounds.
  const rawMs: number[] = [];
  const coldMs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const rawTarget = path.join(work, `raw-${r}.bin`);
    rawMs.push(await time(() => store.getFile(uri, rawTarget)));
    fs.rmSync(rawTarget, { force: true });
    const cache = new DownloadCache({ dir: path.join(work, `cache-cold-${r}`), progress: { delayMs: Infinity } });
    coldMs.push(await time(() => cache.fetch(uri)));
    fs.rmSync(path.join(work, `cache-cold-${r}`), { recursive: true, force: true });
  }
  const coldRatio = median(rawMs) / median(coldMs);

  // 1. Hits. By content (what argument files, pointers and returned outputs carry: one stat, no
  // store request) and by URI alone (one HEAD for the current version, then the index and a stat).
  const cache = configureDownloadCache({ dir: path.join(work, 'cache-hot'), progress: { delayMs: Infinity } });
  const filled = await cache.fetch(uri);
  const contentMs: number[] = [];
  const uriMs: number[] = [];
  for (let i = 0; i < 200; i++) {
    contentMs.push(await time(() => src(uri, { sha256: filled.sha256, size: filled.size }).path()));
    uriMs.push(await time(() => src(uri).path()));
  }
  contentMs.sort((a, b) => a - b);
  uriMs.sort((a, b) => a - b);

  console.log('');
  console.log(
    `1. cache hit, ${label}: by content median ${fmtMs(quantile(contentMs, 0.5))}, p99 ${fmtMs(quantile(contentMs, 0.99))}   [target ≤ 5 ms] ${quantile(contentMs, 0.5) <= 5 ? 'OK' : 'MISSED'}`,
  );
  console.log(`   by URI only (+1 HEAD): median ${fmtMs(quantile(uriMs, 0.5))}, p99 ${fmtMs(quantile(uriMs, 0.99))}`);
  console.log(
    `2. hashing a ${label} file: ${mbps(size, median(fileMs))} vs node:crypto in memory ${mbps(size, median(memMs))} = ${(hashRatio * 100).toFixed(0)} %   [target ≥ 90 %] ${hashRatio >= 0.9 ? 'OK' : 'MISSED'}`,
  );
  console.log(
    `3. cold download, ${label}: into the cache ${fmtMs(median(coldMs))} (${mbps(size, median(coldMs))}) vs raw getFile ${fmtMs(median(rawMs))} (${mbps(size, median(rawMs))}) = ${(coldRatio * 100).toFixed(0)} %   [target ≥ 90 %] ${coldRatio >= 0.9 ? 'OK' : 'MISSED'}`,
  );
  console.log(
    `   (store ${root.split('://')[0]}://, ${rounds} rounds, medians; the cache also verifies: SHA-256 of every byte)`,
  );
  console.log(
    `   load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${os.availableParallelism()} cores: figures of a busy machine are lower`,
  );
} finally {
  fs.rmSync(work, { recursive: true, force: true });
  await store.delete(`${root.replace(/\/+$/, '')}/bench-files/object.bin`).catch(() => undefined);
}
