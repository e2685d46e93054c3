import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { TEST_STALL_TIMEOUT_MS } from '../../support/timing.js';
import { AzureStore } from '../../../src/blobstore/cloud/azure-store.js';
import { BlobNotFoundError, PreconditionFailedError } from '../../../src/blobstore/errors.js';
import { classifyFailure, type RetryEvent } from '../../../src/blobstore/cloud/retry.js';
import { startFaultProxy, type ConnectionFault } from '../../support/fault-proxy.js';
import {
  TEST_CONTAINER,
  azureServer,
  azuriteConnectionString,
  skipRequested,
  type AzureServer,
} from '../../support/servers.js';

describe('retry classification (Azure-shaped errors)', () => {
  const restError = (code: string, statusCode?: number): Error =>
    Object.assign(new Error(code), { name: 'RestError', code, ...(statusCode !== undefined ? { statusCode } : {}) });

  test('transient: ServerBusy, 5xx, 429, send failures, resets', () => {
    for (const e of [
      restError('ServerBusy', 503),
      restError('InternalError', 500),
      restError('OperationTimedOut', 500),
      restError('TooManyRequests', 429),
      restError('REQUEST_SEND_ERROR'),
      restError('ECONNRESET'),
      restError('ETIMEDOUT'),
    ]) {
      expect(classifyFailure(e), e.message).toBe('transient');
    }
  });

  test('permanent: 404, 403, 409, 412, 400', () => {
    for (const e of [
      restError('BlobNotFound', 404),
      restError('AuthenticationFailed', 403),
      restError('BlobAlreadyExists', 409),
      restError('ConditionNotMet', 412),
      restError('InvalidHeaderValue', 400),
      restError('ContainerNotFound', 404),
    ]) {
      expect(classifyFailure(e), e.message).toBe('permanent');
    }
  });
});

describe.skipIf(skipRequested('azure'))('Azure retries against azurite', () => {
  // Through a fault proxy, a stall must be detected (the proxy's `stall` never answers); straight
  // to azurite nothing is injected, so a slow answer under load must not count as a stall. The
  // total budget covers an azurite that other suites keep busy for seconds.
  const storeVia = (azure: AzureServer, blobEndpoint: string, events: RetryEvent[]): AzureStore =>
    new AzureStore({
      connectionString: azuriteConnectionString(blobEndpoint),
      stallTimeoutMs: blobEndpoint === azure.blobEndpoint ? 60_000 : TEST_STALL_TIMEOUT_MS,
      retry: { minDelayMs: 10, maxDelayMs: 100, maxTotalMs: 60_000, onRetry: (e) => events.push(e) },
    });

  const proxyWith = async (azure: AzureServer, faults: ConnectionFault[]) => {
    const target = new URL(azure.blobEndpoint);
    return startFaultProxy({
      targetHost: target.hostname,
      targetPort: Number(target.port),
      decide: (i) => faults[i] ?? 'pass',
      lifetimeMs: 60_000,
    });
  };

  test.each([
    ['ifNoneMatch', false],
    ['ifMatch', true],
  ])(
    'a %s write that landed but whose answer was lost is reported as success, not conflict',
    async (_label, useIfMatch) => {
      const azure = await azureServer();
      const uri = `adls://${azure.account}/${TEST_CONTAINER}/retry-${randomBytes(4).toString('hex')}/lease`;
      const direct = storeVia(azure, azure.blobEndpoint, []);
      const before = useIfMatch ? await direct.put(uri, new TextEncoder().encode('v1')) : undefined;
      const proxy = await proxyWith(azure, ['drop-response']);
      const events: RetryEvent[] = [];
      const store = storeVia(azure, `${proxy.url}/${azure.account}`, events);
      try {
        const result = await store.put(
          uri,
          new TextEncoder().encode('v2'),
          before ? { ifMatch: before.etag } : { ifNoneMatch: '*' },
        );
        expect(new TextDecoder().decode(await direct.get(uri))).toBe('v2');
        expect((await direct.head(uri))?.etag).toBe(result.etag);
        expect(events.length).toBeGreaterThanOrEqual(1);
        expect(proxy.stats.faults['drop-response']).toBe(1);
      } finally {
        await proxy.close();
      }
    },
  );

  test('resets and stalls are retried, once per failure', async () => {
    const azure = await azureServer();
    const proxy = await proxyWith(azure, ['reset', 'stall', 'reset-mid']);
    const events: RetryEvent[] = [];
    const store = storeVia(azure, `${proxy.url}/${azure.account}`, events);
    try {
      const uri = `adls://${azure.account}/${TEST_CONTAINER}/retry-${randomBytes(4).toString('hex')}/obj`;
      const data = randomBytes(64 * 1024);
      await store.put(uri, data);
      expect(Buffer.from(await store.get(uri)).equals(data)).toBe(true);
      const faults = proxy.stats.faults;
      expect(events.length).toBe(faults.reset + faults.stall + faults['reset-mid']);
      expect(faults.stall).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  test('permanent outcomes are not retried: 404, 409/412', async () => {
    const azure = await azureServer();
    const events: RetryEvent[] = [];
    const store = storeVia(azure, azure.blobEndpoint, events);
    const uri = `adls://${azure.account}/${TEST_CONTAINER}/retry-${randomBytes(4).toString('hex')}/obj`;
    await expect(store.get(uri)).rejects.toBeInstanceOf(BlobNotFoundError);
    const v1 = await store.put(uri, Uint8Array.of(1));
    await expect(store.put(uri, Uint8Array.of(2), { ifNoneMatch: '*' })).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    await store.put(uri, Uint8Array.of(3));
    await expect(store.put(uri, Uint8Array.of(4), { ifMatch: v1.etag })).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    expect(events).toEqual([]);
  });

  test('a missing container is reported as such, not as a missing blob', async () => {
    const azure = await azureServer();
    const store = storeVia(azure, azure.blobEndpoint, []);
    const error = await store.get(`adls://${azure.account}/no-such-container/x`).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(BlobNotFoundError);
    expect((error as { statusCode?: number }).statusCode).toBe(404);
  });
});
