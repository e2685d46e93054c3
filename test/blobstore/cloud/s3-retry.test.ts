import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { BlobNotFoundError, PreconditionFailedError } from '../../../src/blobstore/errors.js';
import { IntegrityError } from '../../../src/blobstore/cloud/integrity.js';
import {
  StallTimeoutError,
  TransientError,
  classifyFailure,
  withRetries,
  type RetryEvent,
} from '../../../src/blobstore/cloud/retry.js';
import { S3Store, type S3StoreOptions } from '../../../src/blobstore/cloud/s3-store.js';
import { startFaultProxy, type ConnectionFault } from '../../support/fault-proxy.js';
import { finishesWithinBudget, TEST_STALL_TIMEOUT_MS } from '../../support/timing.js';
import { PROJECT_ROOT, TEST_BUCKET, freePort, s3Server, skipRequested, type S3Server } from '../../support/servers.js';

describe('retry classification (S3-shaped errors)', () => {
  const s3Error = (name: string, status: number): Error =>
    Object.assign(new Error(name), {
      name,
      $metadata: { httpStatusCode: status },
      $fault: status >= 500 ? 'server' : 'client',
    });
  const nodeError = (code: string, message = code): Error => Object.assign(new Error(message), { code });

  test('transient: throttling, timeouts, 5xx, connection failures', () => {
    for (const e of [
      s3Error('SlowDown', 503),
      s3Error('InternalError', 500),
      s3Error('ServiceUnavailable', 503),
      s3Error('RequestTimeout', 400), // S3 sends it with 400: the code wins
      s3Error('TooManyRequests', 429),
      s3Error('BadGateway', 502),
      Object.assign(new Error('socket timed out'), { name: 'TimeoutError' }),
      nodeError('ECONNRESET', 'read ECONNRESET'),
      nodeError('ECONNREFUSED'),
      nodeError('EPIPE'),
      new Error('socket hang up'),
      Object.assign(new Error('aborted'), { code: 'ECONNRESET' }),
      new Error('wrapped', { cause: nodeError('ECONNRESET') }),
      new StallTimeoutError('s3 get', 1000),
      new TransientError('object changed'),
    ]) {
      expect(classifyFailure(e), `${e.name} ${e.message}`).toBe('transient');
    }
  });

  test('permanent: our outcomes, 4xx, programming errors, anything unrecognised', () => {
    for (const e of [
      new BlobNotFoundError('s3://b/k'),
      new PreconditionFailedError('s3://b/k', { ifNoneMatch: '*' }),
      new IntegrityError('s3://b/k', 'a'.repeat(64), 'b'.repeat(64)),
      s3Error('NoSuchKey', 404),
      s3Error('AccessDenied', 403),
      s3Error('PreconditionFailed', 412),
      s3Error('InvalidRequest', 400),
      s3Error('NoSuchBucket', 404),
      new TypeError('x is not a function'),
      new Error('This operation was aborted'),
      new Error('something odd'),
    ]) {
      expect(classifyFailure(e), `${e.name} ${e.message}`).toBe('permanent');
    }
  });

  test('jittered exponential backoff with a bounded total time', async () => {
    const events: RetryEvent[] = [];
    const retry = { retries: 100, minDelayMs: 20, maxDelayMs: 80, maxTotalMs: 2_000 };
    let attempts = 0;
    const error = await withRetries(
      'always failing',
      async () => {
        attempts++;
        throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
      },
      { ...retry, onRetry: (e) => events.push(e) },
    ).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('ECONNRESET');
    // The delays asked for, not wall-clock gaps (see test/support/timing.ts).
    const delays = events.map((e) => e.delayMs);
    expect(events.map((e) => e.attempt)).toEqual(delays.map((_, i) => i + 1));
    expect(attempts).toBe(events.length + 1);
    // Bounded by the total time, not by the 100 retries: the pauses fit in maxTotalMs.
    expect(delays.length).toBeGreaterThan(3);
    expect(delays.length).toBeLessThan(retry.retries);
    expect(delays.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(retry.maxTotalMs);
    // Each pause: minDelayMs doubling per attempt, times a jitter factor in [1, 2), capped at
    // maxDelayMs. A pause is cut shorter when it would overrun the total time, which a loaded
    // machine can make happen early: the full lower bound is checked on the first three pauses
    // (140 ms at most, far inside the budget).
    delays.forEach((delay, i) => {
      const base = retry.minDelayMs * 2 ** i;
      expect(delay).toBeLessThanOrEqual(Math.min(2 * base, retry.maxDelayMs));
      if (i < 3) expect(delay).toBeGreaterThanOrEqual(Math.min(base, retry.maxDelayMs));
    });
    // Jitter: not every pause is the bare exponential value.
    expect(delays.some((delay, i) => delay !== Math.min(retry.minDelayMs * 2 ** i, retry.maxDelayMs))).toBe(true);
  });
});

describe.skipIf(skipRequested('s3'))('S3 retries against Ceph RGW', () => {
  const storeVia = (s3: S3Server, endpoint: string, events: RetryEvent[], extra: S3StoreOptions = {}): S3Store =>
    new S3Store({
      endpoint,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      stallTimeoutMs: TEST_STALL_TIMEOUT_MS,
      retry: { minDelayMs: 10, maxDelayMs: 100, maxTotalMs: 20_000, onRetry: (e) => events.push(e) },
      ...extra,
    });

  /** A proxy whose connections 0, 1, ... get the listed faults, then pass. */
  const proxyWith = async (s3: S3Server, faults: ConnectionFault[]) => {
    const target = new URL(s3.endpoint);
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
      const s3 = await s3Server();
      const uri = `s3://${TEST_BUCKET}/retry-${randomBytes(4).toString('hex')}/lease`;
      const direct = storeVia(s3, s3.endpoint, []);
      const before = useIfMatch ? await direct.put(uri, new TextEncoder().encode('v1')) : undefined;
      const proxy = await proxyWith(s3, ['drop-response']);
      const events: RetryEvent[] = [];
      const store = storeVia(s3, proxy.url, events);
      try {
        // The server's own ETag (no write token), so the PUT is the first request and is the one
        // whose answer is lost; the retry then meets its own write and must recognise it.
        const serverEtag = before?.etag.replace(/#[0-9a-f-]{36}$/, '');
        const result = await store.put(
          uri,
          new TextEncoder().encode('v2'),
          serverEtag ? { ifMatch: serverEtag } : { ifNoneMatch: '*' },
        );
        expect(new TextDecoder().decode(await direct.get(uri))).toBe('v2');
        expect((await direct.head(uri))?.etag).toBe(result.etag);
        expect(events.length).toBeGreaterThanOrEqual(1);
        expect(proxy.stats.faults['drop-response']).toBe(1);
      } finally {
        store.destroy();
        direct.destroy();
        await proxy.close();
      }
    },
  );

  test('connection resets are retried, once per failure', async () => {
    const s3 = await s3Server();
    const proxy = await proxyWith(s3, ['reset', 'reset', 'reset-mid']);
    const events: RetryEvent[] = [];
    const store = storeVia(s3, proxy.url, events);
    try {
      const uri = `s3://${TEST_BUCKET}/retry-${randomBytes(4).toString('hex')}/obj`;
      const data = randomBytes(64 * 1024);
      await store.put(uri, data);
      expect(Buffer.from(await store.get(uri)).equals(data)).toBe(true);
      expect(events.length).toBe(proxy.stats.faults.reset + proxy.stats.faults['reset-mid']);
      expect(events.length).toBeGreaterThanOrEqual(2);
    } finally {
      store.destroy();
      await proxy.close();
    }
  });

  test('a stalled connection is cut after the stall timeout and the request retried', async () => {
    const s3 = await s3Server();
    const proxy = await proxyWith(s3, ['stall']);
    const events: RetryEvent[] = [];
    const store = storeVia(s3, proxy.url, events);
    try {
      const started = Date.now();
      expect(await store.head(`s3://${TEST_BUCKET}/retry-absent-${randomBytes(4).toString('hex')}`)).toBeNull();
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(events).toHaveLength(1);
    } finally {
      store.destroy();
      await proxy.close();
    }
  });

  test('a dead endpoint fails after the bounded total time, not before and not never', async () => {
    const s3 = await s3Server();
    const events: RetryEvent[] = [];
    const store = storeVia(s3, `http://127.0.0.1:${await freePort()}`, events, {
      retry: { minDelayMs: 20, maxDelayMs: 100, maxTotalMs: 1_000, onRetry: (e) => events.push(e) },
    });
    try {
      const error = await finishesWithinBudget(
        store.get(`s3://${TEST_BUCKET}/x`).catch((e: unknown) => e),
        'get from a dead endpoint',
      );
      expect(classifyFailure(error)).toBe('transient');
      // Retried with pauses (the delays asked for) that use up most of maxTotalMs, never more.
      expect(events.length).toBeGreaterThan(2);
      const waited = events.reduce((sum, e) => sum + e.delayMs, 0);
      expect(waited).toBeGreaterThanOrEqual(500);
      expect(waited).toBeLessThanOrEqual(1_000);
    } finally {
      store.destroy();
    }
  });

  test('permanent outcomes are not retried: 404, 412', async () => {
    const s3 = await s3Server();
    const events: RetryEvent[] = [];
    const store = storeVia(s3, s3.endpoint, events);
    try {
      const uri = `s3://${TEST_BUCKET}/retry-${randomBytes(4).toString('hex')}/obj`;
      await expect(store.get(uri)).rejects.toBeInstanceOf(BlobNotFoundError);
      await store.put(uri, Uint8Array.of(1));
      await expect(store.put(uri, Uint8Array.of(2), { ifNoneMatch: '*' })).rejects.toBeInstanceOf(
        PreconditionFailedError,
      );
      expect(events).toEqual([]);
    } finally {
      store.destroy();
    }
  });

  test('every retry is logged once at debug level (NODE_DEBUG=memocall)', async () => {
    const s3 = await s3Server();
    const proxy = await proxyWith(s3, ['reset', 'reset', 'reset']);
    try {
      const script = `
        import { S3Store } from ${JSON.stringify(join(PROJECT_ROOT, 'src/blobstore/cloud/s3-store.ts'))};
        const store = new S3Store({ endpoint: ${JSON.stringify(proxy.url)},
          credentials: { accessKeyId: ${JSON.stringify(s3.accessKeyId)}, secretAccessKey: ${JSON.stringify(s3.secretAccessKey)} },
          retry: { minDelayMs: 10, maxDelayMs: 50 } });
        await store.put('s3://${TEST_BUCKET}/retry-log/obj', new Uint8Array([1]));
        store.destroy();`;
      // Asynchronously: the proxy lives in this process and must keep serving meanwhile.
      const child = await runChild(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, NODE_DEBUG: 'memocall', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      });
      expect(child.status, child.stderr.slice(-3000)).toBe(0);
      const lines = child.stderr.split('\n').filter((l) => /MEMOCALL \d+: retry /.test(l));
      expect(lines).toHaveLength(3);
      expect(lines[0]).toMatch(/retry 1\/\d+ of s3 put s3:\/\/memocall-test\/retry-log\/obj after: .*ECONNRESET/);
    } finally {
      await proxy.close();
    }
  });
});

function runChild(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { ...options, timeout: 30_000 }, (error, _stdout, stderr) => {
      resolve({
        status: error ? ((error as { code?: number }).code ?? null) : 0,
        stderr: error ? `${String(error)}\n${stderr}` : stderr,
      });
    });
  });
}
