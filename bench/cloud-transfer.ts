/**
 * 1 GiB through the cloud stores vs the raw SDKs' own best parallel transfer, on the same
 * servers in the same run (Ceph RGW for S3, azurite for Azure), plus the peak RSS of each
 * transfer and the latency of small `get`s.
 *
 *   npx tsx bench/cloud-transfer.ts [--size-mib 1024] [--rounds 3] [--skip s3|azure]
 *
 * Each transfer runs in its own child process so that its peak RSS (getrusage maxrss) is its own.
 * The servers are started and stopped by this script (test/support/servers.ts).
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const MIB = 1024 * 1024;
const SELF = fileURLToPath(import.meta.url);

interface ServerConfig {
  s3?: { endpoint: string; accessKeyId: string; secretAccessKey: string; region: string };
  azure?: { connectionString: string; account: string };
}

interface WorkerResult {
  seconds: number;
  maxRssMiB: number;
  note?: string;
}

type Op =
  | 's3-raw-up'
  | 's3-store-up'
  | 's3-raw-down'
  | 's3-store-down'
  | 'azure-raw-up'
  | 'azure-store-up'
  | 'azure-raw-down'
  | 'azure-store-down'
  | 's3-small-get'
  | 'azure-small-get';

const BUCKET = 'memocall-bench';
const CONTAINER = 'memocall-bench';

// ---- worker side: one transfer, then print JSON ---------------------------------------------

async function worker(
  op: Op,
  file: string,
  out: string,
  servers: ServerConfig,
  tuning: { concurrency: number; partMiB: number },
): Promise<WorkerResult> {
  const started = performance.now();
  const done = (note?: string): WorkerResult => ({
    seconds: (performance.now() - started) / 1000,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    ...(note ? { note } : {}),
  });
  const partSize = tuning.partMiB * MIB;
  if (op.startsWith('s3-')) {
    const s3 = servers.s3!;
    const { S3Client, GetObjectCommand, HeadObjectCommand } = await import('@aws-sdk/client-s3');
    const { S3Store } = await import('../src/blobstore/cloud/s3-store.js');
    const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { httpAgent: { keepAlive: true, maxSockets: 64 } },
    });
    const store = new S3Store({
      endpoint: s3.endpoint,
      credentials,
      partSizeBytes: partSize,
      uploadConcurrency: tuning.concurrency,
      downloadConcurrency: tuning.concurrency,
    });
    switch (op) {
      case 's3-raw-up': {
        const { Upload } = await import('@aws-sdk/lib-storage');
        const body = createReadStream(file, { highWaterMark: MIB });
        await new Upload({
          client,
          params: { Bucket: BUCKET, Key: 'raw', Body: body, ContentLength: (await stat(file)).size },
          queueSize: tuning.concurrency,
          partSize,
        }).done();
        break;
      }
      case 's3-store-up':
        await store.putFile(file, `s3://${BUCKET}/store`);
        break;
      case 's3-raw-down': {
        const size = (await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'raw' }))).ContentLength ?? 0;
        await rangedDownload(size, partSize, tuning.concurrency, out, async (start, end) => {
          const res = await client.send(
            new GetObjectCommand({ Bucket: BUCKET, Key: 'raw', Range: `bytes=${start}-${end - 1}` }),
          );
          return res.Body as unknown as AsyncIterable<Uint8Array>;
        });
        break;
      }
      case 's3-store-down':
        await store.getFile(`s3://${BUCKET}/store`, out);
        break;
      case 's3-small-get':
        return smallGets(
          (uri) => store.get(uri),
          (uri, d) => store.put(uri, d),
          `s3://${BUCKET}/small`,
          async () => {
            const r = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'small' }));
            await r.Body!.transformToByteArray();
          },
        );
      default:
        throw new Error(op);
    }
    store.destroy();
    client.destroy();
    return done();
  }
  const azure = servers.azure!;
  const { BlobServiceClient } = await import('@azure/storage-blob');
  const { AzureStore } = await import('../src/blobstore/cloud/azure-store.js');
  const container = BlobServiceClient.fromConnectionString(azure.connectionString).getContainerClient(CONTAINER);
  const store = new AzureStore({
    connectionString: azure.connectionString,
    blockSizeBytes: partSize,
    uploadConcurrency: tuning.concurrency,
    downloadConcurrency: tuning.concurrency,
  });
  const base = `adls://${azure.account}/${CONTAINER}`;
  switch (op) {
    case 'azure-raw-up':
      await container
        .getBlockBlobClient('raw')
        .uploadFile(file, { blockSize: partSize, concurrency: tuning.concurrency });
      break;
    case 'azure-store-up':
      await store.putFile(file, `${base}/store`);
      break;
    case 'azure-raw-down': {
      const blob = container.getBlockBlobClient('raw');
      const size = (await blob.getProperties()).contentLength ?? 0;
      await rangedDownload(size, partSize, tuning.concurrency, out, async (start, end) => {
        const res = await blob.download(start, end - start);
        return res.readableStreamBody as unknown as AsyncIterable<Uint8Array>;
      });
      break;
    }
    case 'azure-store-down':
      await store.getFile(`${base}/store`, out);
      break;
    case 'azure-small-get':
      return smallGets(
        (uri) => store.get(uri),
        (uri, d) => store.put(uri, d),
        `${base}/small`,
        async () => {
          const r = await container.getBlockBlobClient('small').download();
          for await (const _ of r.readableStreamBody as AsyncIterable<Uint8Array>) void _;
        },
      );
    default:
      throw new Error(op);
  }
  return done();
}

/** The raw SDK baseline: ranged GETs in parallel, written at their offsets (no verification). */
async function rangedDownload(
  size: number,
  partSize: number,
  concurrency: number,
  out: string,
  fetch: (start: number, end: number) => Promise<AsyncIterable<Uint8Array>>,
): Promise<void> {
  const fh = await open(out, 'w');
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < size) {
          const start = next;
          next += partSize;
          const end = Math.min(size, start + partSize);
          let pos = start;
          for await (const chunk of await fetch(start, end)) {
            await fh.write(chunk, 0, chunk.byteLength, pos);
            pos += chunk.byteLength;
          }
        }
      }),
    );
  } finally {
    await fh.close();
  }
}

/** Latency of a 1 KiB get through the store (and, for reference, the raw SDK). */
async function smallGets(
  get: (uri: string) => Promise<Uint8Array>,
  put: (uri: string, data: Uint8Array) => Promise<unknown>,
  uri: string,
  rawGet: () => Promise<void>,
): Promise<WorkerResult> {
  await put(uri, randomBytes(1024));
  const measure = async (fn: () => Promise<unknown>): Promise<number[]> => {
    for (let i = 0; i < 20; i++) await fn(); // warm the connection pool and the JIT
    const times: number[] = [];
    for (let i = 0; i < 300; i++) {
      const t = performance.now();
      await fn();
      times.push(performance.now() - t);
    }
    return times.sort((a, b) => a - b);
  };
  const store = await measure(() => get(uri));
  const raw = await measure(rawGet);
  const q = (xs: number[], p: number): string =>
    (xs[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0).toFixed(2);
  return {
    seconds: 0,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    note: `store p50 ${q(store, 0.5)} ms, p95 ${q(store, 0.95)} ms; raw SDK p50 ${q(raw, 0.5)} ms, p95 ${q(raw, 0.95)} ms`,
  };
}

// ---- driver side ------------------------------------------------------------------------------

function runWorker(
  op: Op,
  file: string,
  out: string,
  servers: ServerConfig,
  tuning: { concurrency: number; partMiB: number },
): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [
        '--import',
        'tsx',
        SELF,
        '--worker',
        op,
        '--file',
        file,
        '--out',
        out,
        '--servers',
        JSON.stringify(servers),
        '--tuning',
        JSON.stringify(tuning),
      ],
      {
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        maxBuffer: 16 * MIB,
        timeout: 600_000,
      },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`${op} failed: ${error.message}\n${stderr}`));
        const line = stdout.trim().split('\n').pop() ?? '';
        resolve(JSON.parse(line) as WorkerResult);
      },
    );
  });
}

async function makeFile(path: string, size: number): Promise<void> {
  const fh = await open(path, 'w');
  const chunk = Buffer.allocUnsafe(16 * MIB);
  try {
    for (let off = 0; off < size; off += chunk.byteLength) {
      randomFillSync(chunk);
      await fh.write(chunk, 0, Math.min(chunk.byteLength, size - off));
    }
  } finally {
    await fh.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      worker: { type: 'string' },
      file: { type: 'string' },
      out: { type: 'string' },
      servers: { type: 'string' },
      tuning: { type: 'string' },
      'size-mib': { type: 'string', default: '1024' },
      skip: { type: 'string', default: '' },
      rounds: { type: 'string', default: '3' },
    },
  });
  if (values.worker) {
    const result = await worker(
      values.worker as Op,
      values.file!,
      values.out!,
      JSON.parse(values.servers!),
      JSON.parse(values.tuning!),
    );
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }

  const { startRgw, startAzurite, killOnExit } = await import('../test/support/servers.js');
  const sizeMiB = Number(values['size-mib']);
  const skip = values.skip ?? '';
  const rounds = Math.max(1, Number(values.rounds));
  const dir = await mkdtemp(join(tmpdir(), 'memocall-cloud-bench-'));
  const file = join(dir, 'payload.bin');
  const out = join(dir, 'download.bin');
  const running: Array<{ stop(): Promise<void>; pids(): number[] }> = [];
  const forget = killOnExit(() => running.flatMap((r) => r.pids()));
  const rows: string[] = [];
  try {
    console.error(`making a ${sizeMiB} MiB file and starting servers...`);
    const [rgw, azurite] = await Promise.all([
      // Room for the objects of a round plus what RGW's (fast, see ceph-rgw-up.sh) GC has not freed yet.
      skip.includes('s3') ? undefined : startRgw({ memstoreBytes: (4 * sizeMiB + 1024) * MIB }),
      skip.includes('azure') ? undefined : startAzurite(),
      makeFile(file, sizeMiB * MIB),
    ]);
    if (rgw) running.push(rgw);
    if (azurite) running.push(azurite);
    const servers: ServerConfig = {};
    if (rgw) {
      servers.s3 = rgw.info;
      const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
      const c = new S3Client({
        endpoint: rgw.info.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: rgw.info,
      });
      await c.send(new CreateBucketCommand({ Bucket: BUCKET }));
      c.destroy();
    }
    if (azurite) {
      servers.azure = { connectionString: azurite.info.connectionString, account: azurite.info.account };
      const { BlobServiceClient } = await import('@azure/storage-blob');
      await BlobServiceClient.fromConnectionString(azurite.info.connectionString)
        .getContainerClient(CONTAINER)
        .createIfNotExists();
    }
    const mibps = (r: WorkerResult): string => (sizeMiB / r.seconds).toFixed(0);
    // The raw SDK gets several tunings and its best counts; the store runs with its defaults.
    const rawTunings = [
      { concurrency: 8, partMiB: 16 },
      { concurrency: 16, partMiB: 8 },
    ];
    for (const kind of ['s3', 'azure'] as const) {
      if (!servers[kind]) continue;
      const defaults = { concurrency: 8, partMiB: 8 }; // the stores' defaults
      for (const direction of ['up', 'down'] as const) {
        // Rounds interleave raw and store runs so that a busy moment of this (shared, 2-core)
        // machine hurts both; the best run of each side counts.
        let bestRaw: (WorkerResult & { tuning: string }) | undefined;
        let bestOurs: WorkerResult | undefined;
        for (let round = 1; round <= rounds; round++) {
          for (const tuning of rawTunings) {
            const r = await runWorker(`${kind}-raw-${direction}`, file, out, servers, tuning);
            console.error(
              `round ${round} ${kind} raw ${direction} ${tuning.concurrency}x${tuning.partMiB}MiB: ${r.seconds.toFixed(2)} s, ${mibps(r)} MiB/s, peak RSS ${r.maxRssMiB.toFixed(0)} MiB`,
            );
            if (!bestRaw || r.seconds < bestRaw.seconds)
              bestRaw = { ...r, tuning: `${tuning.concurrency}x${tuning.partMiB} MiB` };
          }
          const ours = await runWorker(`${kind}-store-${direction}`, file, out, servers, defaults);
          console.error(
            `round ${round} ${kind} store ${direction}: ${ours.seconds.toFixed(2)} s, ${mibps(ours)} MiB/s, peak RSS ${ours.maxRssMiB.toFixed(0)} MiB`,
          );
          // Peak RSS: the worst run counts, not the fastest one's.
          if (!bestOurs || ours.seconds < bestOurs.seconds)
            bestOurs = { ...ours, maxRssMiB: Math.max(ours.maxRssMiB, bestOurs?.maxRssMiB ?? 0) };
          else bestOurs.maxRssMiB = Math.max(bestOurs.maxRssMiB, ours.maxRssMiB);
          if (direction === 'down') await rm(out, { force: true });
        }
        const ours = bestOurs!;
        const ratio = bestRaw!.seconds / ours.seconds;
        rows.push(
          `| ${kind === 's3' ? 'S3 (Ceph RGW)' : 'Azure (azurite)'} | ${direction === 'up' ? 'upload' : 'download'} | ${bestRaw!.seconds.toFixed(2)} s (${mibps(bestRaw!)} MiB/s, ${bestRaw!.tuning}) | ${ours.seconds.toFixed(2)} s (${mibps(ours)} MiB/s) | ${(ratio * 100).toFixed(0)}% | ${ours.maxRssMiB.toFixed(0)} MiB (raw ${bestRaw!.maxRssMiB.toFixed(0)} MiB) |`,
        );
      }
      const small = await runWorker(`${kind}-small-get`, file, out, servers, defaults);
      rows.push(`| ${kind === 's3' ? 'S3 (Ceph RGW)' : 'Azure (azurite)'} | 1 KiB get latency | ${small.note} | | | |`);
    }
    console.log(`\n${sizeMiB} MiB transfers, best of ${rounds} interleaved rounds, ${new Date().toISOString()}\n`);
    console.log('| store | transfer | raw SDK best | memocall store | store/raw | store peak RSS |');
    console.log('|---|---|---|---|---|---|');
    for (const row of rows) console.log(row);
  } finally {
    await Promise.all(running.map((r) => r.stop()));
    forget();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
