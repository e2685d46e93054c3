import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TEST_STALL_TIMEOUT_MS } from '../../support/timing.js';
import { AzureStore } from '../../../src/blobstore/cloud/azure-store.js';
import type { BlobStore } from '../../../src/blobstore/blob-store.js';
import { PreconditionFailedError } from '../../../src/blobstore/errors.js';
import { IntegrityError } from '../../../src/blobstore/cloud/integrity.js';
import type { RetryEvent, RetryOptions } from '../../../src/blobstore/cloud/retry.js';
import { S3Store } from '../../../src/blobstore/cloud/s3-store.js';
import { startFaultProxy, type FaultProxy } from '../../support/fault-proxy.js';
import {
  TEST_BUCKET,
  TEST_CONTAINER,
  azureServer,
  azuriteConnectionString,
  s3Server,
  skipRequested,
} from '../../support/servers.js';

/**
 * A workload of writes, reads and conditional writes through a proxy that resets 10% of
 * connections (some after the server has applied the request), stalls 5%, and corrupts 3% of
 * responses in flight. Every operation must end with the right outcome, and no read may ever
 * return bytes other than those written: the sha256 check refuses the corrupted ones.
 */

const MIB = 1024 * 1024;
const retry = (events: RetryEvent[]): RetryOptions => ({
  retries: 40,
  minDelayMs: 10,
  maxDelayMs: 200,
  maxTotalMs: 60_000,
  onRetry: (e) => events.push(e),
});

const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

interface WorkloadReport {
  operations: number;
  corruptRefused: number;
}

async function runWorkload(store: BlobStore, root: string, bigSize: number): Promise<WorkloadReport> {
  const dir = await mkdtemp(join(tmpdir(), 'memocall-fault-'));
  let operations = 0;
  let corruptRefused = 0;
  /** Reads until the store returns bytes; every returned byte string must be the expected one. */
  const readChecked = async (read: () => Promise<Uint8Array>, expected: string, what: string): Promise<void> => {
    for (let i = 0; ; i++) {
      try {
        const got = await read();
        operations++;
        // The point of the test: never bytes other than those written.
        expect(sha(got), `${what} returned corrupt bytes`).toBe(expected);
        return;
      } catch (error) {
        // Two corrupted transfers in a row: refused, as it must be. Ask again.
        if (!(error instanceof IntegrityError) || i >= 10) throw error;
        corruptRefused++;
      }
    }
  };
  try {
    // 1. Plain writes of many sizes, and reads of each through get / getVersioned.
    const objects = Array.from({ length: 48 }, (_, i) => {
      const size = i % 6 === 0 ? 0 : Math.floor((i * 7919) % (256 * 1024));
      return { uri: `${root}/plain/${String(i).padStart(3, '0')}`, data: randomBytes(size) };
    });
    await forEachLimited(objects, 8, async ({ uri, data }) => {
      await store.put(uri, data);
      operations++;
    });
    await forEachLimited(objects, 8, async ({ uri, data }) => {
      await readChecked(() => store.get(uri), sha(data), `get ${uri}`);
      await readChecked(async () => (await store.getVersioned!(uri)).data, sha(data), `getVersioned ${uri}`);
    });

    // 2. Large objects: multipart / staged upload from a file, parallel ranged download to a file.
    const big = randomBytes(bigSize);
    const bigPath = join(dir, 'big.bin');
    await writeFile(bigPath, big);
    await store.putFile(bigPath, `${root}/big/file`);
    await store.put(`${root}/big/buffer`, big);
    operations += 2;
    for (const name of ['file', 'buffer']) {
      const out = join(dir, `out-${name}`);
      await readChecked(
        async () => {
          await store.getFile(`${root}/big/${name}`, out);
          return readFile(out);
        },
        sha(big),
        `getFile big/${name}`,
      );
    }

    // 3. Create-once: 12 keys, 3 concurrent creators each. A creator whose first attempt landed
    //    but whose answer was reset must still win, never be told it lost.
    await forEachLimited(
      Array.from({ length: 12 }, (_, k) => k),
      4,
      async (k) => {
        const uri = `${root}/once/${k}`;
        const outcomes = await Promise.allSettled(
          [0, 1, 2].map((c) => store.put(uri, new TextEncoder().encode(`creator ${c}`), { ifNoneMatch: '*' })),
        );
        operations += 3;
        const winners = outcomes.flatMap((o, c) => (o.status === 'fulfilled' ? [c] : []));
        for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(PreconditionFailedError);
        expect(winners, `creators of ${uri}`).toHaveLength(1);
        const expected = sha(new TextEncoder().encode(`creator ${winners[0]}`));
        await readChecked(() => store.get(uri), expected, `get ${uri}`);
      },
    );

    // 4. Compare-and-swap chains, 4 writers in parallel each on its own counter: every
    //    increment lands exactly once, although some answers are lost on the way back.
    await Promise.all(
      [0, 1, 2, 3].map(async (w) => {
        const uri = `${root}/cas/${w}`;
        let { etag } = await store.put(uri, new TextEncoder().encode('0'));
        for (let n = 1; n <= 8; n++) {
          ({ etag } = await store.put(uri, new TextEncoder().encode(String(n)), { ifMatch: etag }));
          operations++;
        }
        await readChecked(() => store.get(uri), sha(new TextEncoder().encode('8')), `get ${uri}`);
        const head = await store.head(uri);
        expect(head?.etag).toBe(etag);
      }),
    );
    return { operations, corruptRefused };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

const faults = { resetRate: 0.1, stallRate: 0.05, corruptRate: 0.03, maxStallMs: 10_000, maxConnectionAgeMs: 30 };

describe.skipIf(skipRequested('s3'))('fault proxy: S3 store on Ceph RGW', () => {
  let proxy: FaultProxy;
  let store: S3Store;
  const events: RetryEvent[] = [];

  beforeAll(async () => {
    const s3 = await s3Server();
    const target = new URL(s3.endpoint);
    proxy = await startFaultProxy({ targetHost: target.hostname, targetPort: Number(target.port), seed: 7, ...faults });
    store = new S3Store({
      endpoint: proxy.url,
      region: s3.region,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      partSizeBytes: 5 * MIB,
      stallTimeoutMs: TEST_STALL_TIMEOUT_MS,
      connectTimeoutMs: 1_000,
      retry: retry(events),
    });
  });

  afterAll(async () => {
    store?.destroy();
    await proxy?.close();
  });

  test('a workload completes with correct results and never returns a corrupt object', async () => {
    const report = await runWorkload(store, `s3://${TEST_BUCKET}/fault-${randomBytes(4).toString('hex')}`, 12 * MIB);
    // The faults really happened, and were really retried.
    expect(
      proxy.stats.faults.reset + proxy.stats.faults['reset-mid'] + proxy.stats.faults['drop-response'],
    ).toBeGreaterThan(0);
    expect(proxy.stats.faults.stall + proxy.stats.faults['stall-mid']).toBeGreaterThan(0);
    expect(events.length).toBeGreaterThan(0);
    console.info(
      `s3 through fault proxy: ${report.operations} operations, ${events.length} retries, ${report.corruptRefused} corrupt reads refused, proxy ${JSON.stringify(proxy.stats)}`,
    );
  }, 150_000);
});

describe.skipIf(skipRequested('azure'))('fault proxy: Azure store on azurite', () => {
  let proxy: FaultProxy;
  let store: AzureStore;
  let account: string;
  const events: RetryEvent[] = [];

  beforeAll(async () => {
    const azure = await azureServer();
    account = azure.account;
    const target = new URL(azure.blobEndpoint);
    proxy = await startFaultProxy({
      targetHost: target.hostname,
      targetPort: Number(target.port),
      seed: 11,
      ...faults,
    });
    store = new AzureStore({
      connectionString: azuriteConnectionString(`${proxy.url}/${azure.account}`),
      blockSizeBytes: 2 * MIB,
      stallTimeoutMs: TEST_STALL_TIMEOUT_MS,
      retry: retry(events),
    });
  });

  afterAll(async () => {
    await proxy?.close();
  });

  test('a workload completes with correct results and never returns a corrupt object', async () => {
    const report = await runWorkload(
      store,
      `adls://${account}/${TEST_CONTAINER}/fault-${randomBytes(4).toString('hex')}`,
      9 * MIB,
    );
    expect(
      proxy.stats.faults.reset + proxy.stats.faults['reset-mid'] + proxy.stats.faults['drop-response'],
    ).toBeGreaterThan(0);
    expect(proxy.stats.faults.stall + proxy.stats.faults['stall-mid']).toBeGreaterThan(0);
    expect(events.length).toBeGreaterThan(0);
    console.info(
      `azure through fault proxy: ${report.operations} operations, ${events.length} retries, ${report.corruptRefused} corrupt reads refused, proxy ${JSON.stringify(proxy.stats)}`,
    );
  }, 150_000);
});
