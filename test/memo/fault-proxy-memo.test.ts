import { createHash, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, test } from 'vitest';
import { TEST_STALL_TIMEOUT_MS } from '../support/timing.js';
import { AzureStore } from '../../src/blobstore/cloud/azure-store.js';
import type { BlobStore } from '../../src/blobstore/blob-store.js';
import { S3Store } from '../../src/blobstore/cloud/s3-store.js';
import { MemoizingRunner, registerBlobStore, useRunner } from '../../src/index.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import {
  TEST_BUCKET,
  TEST_CONTAINER,
  azureServer,
  azuriteConnectionString,
  s3Server,
  skipRequested,
} from '../support/servers.js';

/**
 * A memoized workload (leases, invocations, results, run records) whose store sits behind a
 * proxy that resets 10% of connections, stalls 5% and corrupts 3% of responses: every call must
 * return the right value, every value must be stored exactly once, and a second pass must be all
 * hits with the same values.
 */
const faults = { resetRate: 0.1, stallRate: 0.05, corruptRate: 0.03, maxStallMs: 5_000, maxConnectionAgeMs: 30 };
const retry = { retries: 40, minDelayMs: 10, maxDelayMs: 200, maxTotalMs: 60_000 };
const proxies: FaultProxy[] = [];
afterAll(async () => {
  for (const p of proxies) await p.close();
});

async function memoizedWorkload(scheme: 's3' | 'adls', store: BlobStore, root: string): Promise<void> {
  registerBlobStore(scheme, () => store); // this test file's own process: every URI of the scheme goes through the proxy
  let runs = 0;
  const body = async (i: number, payload: Uint8Array) => {
    runs++;
    return { i, digest: createHash('sha256').update(payload).update(String(i)).digest('hex') };
  };
  const payloads = Array.from({ length: 24 }, (_, i) => randomBytes(512 + i * 97));
  const expected = payloads.map((p, i) => createHash('sha256').update(p).update(String(i)).digest('hex'));
  const pass = async () => {
    const f = useRunner(new MemoizingRunner({ blobRoot: root, waitInitialMs: 50, waitMaxMs: 500 }), body, {
      id: `fault/${scheme}`,
    });
    const results: Array<{ i: number; digest: string }> = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (next < payloads.length) {
          const i = next++;
          results[i] = await f(i, payloads[i]!);
        }
      }),
    );
    return results;
  };
  const first = await pass();
  expect(first.map((r) => r.digest)).toEqual(expected);
  expect(runs).toBe(24);
  const second = await pass();
  expect(second).toEqual(first);
  expect(runs).toBe(24);
}

describe.skipIf(skipRequested('s3'))('memoized workload through a faulty network: S3 (Ceph RGW)', () => {
  test('completes with correct results, each computed once', async () => {
    const s3 = await s3Server();
    const target = new URL(s3.endpoint);
    const proxy = await startFaultProxy({
      targetHost: target.hostname,
      targetPort: Number(target.port),
      seed: 3,
      ...faults,
    });
    proxies.push(proxy);
    const store = new S3Store({
      endpoint: proxy.url,
      region: s3.region,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      stallTimeoutMs: TEST_STALL_TIMEOUT_MS,
      connectTimeoutMs: 1_000,
      retry,
    });
    await memoizedWorkload('s3', store, `s3://${TEST_BUCKET}/fault-memo-${randomBytes(4).toString('hex')}`);
    expect(
      proxy.stats.faults.reset + proxy.stats.faults['reset-mid'] + proxy.stats.faults['drop-response'],
    ).toBeGreaterThan(0);
  }, 180_000);
});

describe.skipIf(skipRequested('azure'))('memoized workload through a faulty network: Azure (azurite)', () => {
  test('completes with correct results, each computed once', async () => {
    const azure = await azureServer();
    const target = new URL(azure.blobEndpoint);
    const proxy = await startFaultProxy({
      targetHost: target.hostname,
      targetPort: Number(target.port),
      seed: 5,
      ...faults,
    });
    proxies.push(proxy);
    const store = new AzureStore({
      connectionString: azuriteConnectionString(`${proxy.url}/${azure.account}`),
      stallTimeoutMs: TEST_STALL_TIMEOUT_MS,
      retry,
    });
    await memoizedWorkload(
      'adls',
      store,
      `adls://${azure.account}/${TEST_CONTAINER}/fault-memo-${randomBytes(4).toString('hex')}`,
    );
    expect(
      proxy.stats.faults.reset + proxy.stats.faults['reset-mid'] + proxy.stats.faults['drop-response'],
    ).toBeGreaterThan(0);
  }, 180_000);
});
