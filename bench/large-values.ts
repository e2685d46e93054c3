// Large values through the file store: a 2.5 GiB object round trip (put + get) and the peak
// memory of a memoized call with a 1.5 GiB Buffer argument. Each measurement runs in a fresh
// process, so `maxRSS` (the process's peak resident set) belongs to it alone.
//   npm run build && node dist/bench/large-values.js [roundtripGiB=2.5] [argumentGiB=1.5]
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { lookupBlobStore } from '../src/blobstore/registry.js';
import { MemoizingRunner, useRunner } from '../src/index.js';
import { freshBlobRoot, inFreshProcess } from './support.js';

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

/** Peak resident set of this process so far, in bytes. */
const peakRss = (): number => process.resourceUsage().maxRSS * 1024;

/** `bytes` of a repeated random MiB: cheap to make, not compressible by the page cache. */
function makeInput(bytes: number): Buffer {
  const data = Buffer.allocUnsafeSlow(bytes);
  data.fill(randomBytes(MIB));
  return data;
}

const gib = (bytes: number): string => `${(bytes / GIB).toFixed(2)} GiB`;

interface RoundTrip {
  bytes: number;
  putMs: number;
  getMs: number;
  rssAfterInput: number;
  peakRss: number;
  equal: boolean;
}

interface Argument {
  bytes: number;
  missMs: number;
  hitMs: number;
  rssAfterInput: number;
  peakAfterMiss: number;
  peakAfterHit: number;
}

const [mode, root, sizeArg] = process.argv.slice(2);

if (mode === 'roundtrip') {
  const bytes = Math.round(Number(sizeArg) * GIB);
  const store = lookupBlobStore(root!);
  const uri = `${root}/large/object`;
  const data = makeInput(bytes);
  const rssAfterInput = peakRss();
  let t = performance.now();
  await store.put(uri, data);
  const putMs = performance.now() - t;
  t = performance.now();
  const back = await store.get(uri);
  const getMs = performance.now() - t;
  const equal = Buffer.compare(data, Buffer.from(back.buffer, back.byteOffset, back.byteLength)) === 0;
  const result: RoundTrip = { bytes, putMs, getMs, rssAfterInput, peakRss: peakRss(), equal };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else if (mode === 'argument') {
  const bytes = Math.round(Number(sizeArg) * GIB);
  const runner = new MemoizingRunner({ blobRoot: root! }); // default shim: samethread;
  const byteLength = useRunner(runner, async (data: Buffer) => data.byteLength, { id: 'bench/large-arg' });
  const data = makeInput(bytes);
  const rssAfterInput = peakRss();
  let t = performance.now();
  const first = await byteLength(data);
  const missMs = performance.now() - t;
  const peakAfterMiss = peakRss();
  t = performance.now();
  const second = await byteLength(data);
  const hitMs = performance.now() - t;
  if (first !== bytes || second !== bytes) throw new Error(`wrong result ${first} / ${second}`);
  const result: Argument = { bytes, missMs, hitMs, rssAfterInput, peakAfterMiss, peakAfterHit: peakRss() };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  const roundTripGiB = process.argv[2] ?? '2.5';
  const argumentGiB = process.argv[3] ?? '1.5';
  {
    const blobRoot = freshBlobRoot('large');
    try {
      const r = inFreshProcess<RoundTrip>('large-values.js', ['roundtrip', blobRoot, roundTripGiB]);
      console.log(
        `file store round trip of ${gib(r.bytes)}: put ${(r.putMs / 1000).toFixed(1)} s, get ${(r.getMs / 1000).toFixed(1)} s, ` +
          `bytes equal: ${r.equal}; peak RSS ${gib(r.peakRss)} (input alone ${gib(r.rssAfterInput)}, ` +
          `so ${gib(r.peakRss - r.rssAfterInput)} beyond it: the bytes read back)`,
      );
    } finally {
      rmSync(fileURLToPath(blobRoot), { recursive: true, force: true });
    }
  }
  {
    const blobRoot = freshBlobRoot('large-arg');
    try {
      const r = inFreshProcess<Argument>('large-values.js', ['argument', blobRoot, argumentGiB]);
      console.log(
        `memoized call with a ${gib(r.bytes)} Buffer argument (samethread): miss ${(r.missMs / 1000).toFixed(1)} s, ` +
          `hit ${(r.hitMs / 1000).toFixed(1)} s; peak RSS ${gib(r.peakAfterMiss)} after the miss, ` +
          `${gib(r.peakAfterHit)} after the hit (input alone ${gib(r.rssAfterInput)}, so ` +
          `${((r.peakAfterHit - r.rssAfterInput) / r.bytes).toFixed(2)} input sizes beyond it)`,
      );
    } finally {
      rmSync(fileURLToPath(blobRoot), { recursive: true, force: true });
    }
  }
}
