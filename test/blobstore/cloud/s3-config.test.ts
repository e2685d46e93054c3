import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, test } from 'vitest';
import { UnsupportedUriError } from '../../../src/blobstore/errors.js';
import { S3Store, parseS3Uri, resolveS3Config } from '../../../src/blobstore/cloud/s3-store.js';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT, TEST_BUCKET, s3ChildEnv, s3Server, skipRequested } from '../../support/servers.js';

describe('s3 URIs', () => {
  test('bucket and key', () => {
    expect(parseS3Uri('s3://bucket/a/b/c.txt')).toEqual({ bucket: 'bucket', key: 'a/b/c.txt' });
    expect(parseS3Uri('s3://my.bucket-1/k@x=y')).toEqual({ bucket: 'my.bucket-1', key: 'k@x=y' });
  });

  test('list prefixes may stop at the bucket', () => {
    expect(parseS3Uri('s3://bucket', true)).toEqual({ bucket: 'bucket', key: '' });
    expect(parseS3Uri('s3://bucket/', true)).toEqual({ bucket: 'bucket', key: '' });
  });

  test('objects need a key; other schemes and bad buckets are refused', () => {
    for (const bad of ['s3://bucket', 's3://bucket/', 'file:///x', 's3:/bucket/x', 's3://b/x', 's3://Bad_Bucket!/x']) {
      expect(() => parseS3Uri(bad), bad).toThrow(UnsupportedUriError);
    }
  });
});

describe('s3 configuration', () => {
  test('AWS defaults: SDK chain, virtual-hosted style, quoted If-Match, region redirects', () => {
    const c = resolveS3Config({ env: {} });
    expect(c.customEndpoint).toBe(false);
    expect(c.clientConfig.endpoint).toBeUndefined();
    expect(c.clientConfig.region).toBeUndefined(); // the SDK reads AWS_REGION / the profile
    expect(c.clientConfig.forcePathStyle).toBe(false);
    expect(c.clientConfig.followRegionRedirects).toBe(true);
    expect(c.clientConfig.credentials).toBeUndefined(); // the SDK's default credential chain
    expect(c.ifMatchQuoting).toBe('quoted');
    expect(c.clientConfig.maxAttempts).toBe(1); // retries belong to retry.ts
    expect(c.partSizeBytes).toBe(8 * 1024 * 1024);
  });

  test('endpoint from env, in order MEMOCALL_S3_ENDPOINT > AWS_ENDPOINT_URL_S3 > AWS_ENDPOINT_URL', () => {
    const all = {
      MEMOCALL_S3_ENDPOINT: 'http://a:1',
      AWS_ENDPOINT_URL_S3: 'http://b:2',
      AWS_ENDPOINT_URL: 'http://c:3',
    };
    expect(resolveS3Config({ env: all }).clientConfig.endpoint).toBe('http://a:1');
    expect(resolveS3Config({ env: { ...all, MEMOCALL_S3_ENDPOINT: '' } }).clientConfig.endpoint).toBe('http://b:2');
    expect(resolveS3Config({ env: { AWS_ENDPOINT_URL: 'http://c:3' } }).clientConfig.endpoint).toBe('http://c:3');
    expect(resolveS3Config({ endpoint: 'http://opt:9', env: all }).clientConfig.endpoint).toBe('http://opt:9');
  });

  test('a custom endpoint implies path style, us-east-1, unquoted If-Match, checksums only when required', () => {
    const c = resolveS3Config({ env: { MEMOCALL_S3_ENDPOINT: 'http://127.0.0.1:7480' } });
    expect(c.customEndpoint).toBe(true);
    expect(c.clientConfig.forcePathStyle).toBe(true);
    expect(c.clientConfig.region).toBe('us-east-1');
    expect(c.ifMatchQuoting).toBe('unquoted');
    expect(c.clientConfig.requestChecksumCalculation).toBe('WHEN_REQUIRED');
    expect(c.clientConfig.responseChecksumValidation).toBe('WHEN_REQUIRED');
    expect(c.clientConfig.followRegionRedirects).toBe(false);
  });

  test('overrides by env and by option', () => {
    const env = {
      MEMOCALL_S3_ENDPOINT: 'http://127.0.0.1:7480',
      MEMOCALL_S3_FORCE_PATH_STYLE: 'false',
      MEMOCALL_S3_IF_MATCH_QUOTES: 'quoted',
      AWS_DEFAULT_REGION: 'eu-west-3',
    };
    const c = resolveS3Config({ env });
    expect(c.clientConfig.forcePathStyle).toBe(false);
    expect(c.ifMatchQuoting).toBe('quoted');
    expect(c.clientConfig.region).toBe('eu-west-3');
    expect(resolveS3Config({ env: { ...env, AWS_REGION: 'ap-south-1' } }).clientConfig.region).toBe('ap-south-1');
    const o = resolveS3Config({
      env,
      forcePathStyle: true,
      ifMatchQuoting: 'unquoted',
      region: 'us-west-2',
      partSizeBytes: 1,
    });
    expect(o.clientConfig.forcePathStyle).toBe(true);
    expect(o.ifMatchQuoting).toBe('unquoted');
    expect(o.clientConfig.region).toBe('us-west-2');
    expect(o.partSizeBytes).toBe(5 * 1024 * 1024); // S3's minimum part size
  });

  test('malformed env values are refused with the variable named', () => {
    expect(() => resolveS3Config({ env: { MEMOCALL_S3_FORCE_PATH_STYLE: 'maybe' } })).toThrow(
      /MEMOCALL_S3_FORCE_PATH_STYLE/,
    );
    expect(() => resolveS3Config({ env: { MEMOCALL_S3_IF_MATCH_QUOTES: 'single' } })).toThrow(
      /MEMOCALL_S3_IF_MATCH_QUOTES/,
    );
  });
});

describe.skipIf(skipRequested('s3'))('s3 configuration against Ceph RGW', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  test('endpoint and credentials from the environment only, the way AWS users configure it', async () => {
    const s3 = await s3Server();
    // The SDK's default credential chain reads these; nothing is passed in code.
    process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
    process.env.AWS_ENDPOINT_URL_S3 = s3.endpoint;
    delete process.env.AWS_PROFILE;
    const store = new S3Store();
    try {
      const uri = `s3://${TEST_BUCKET}/config-${randomBytes(4).toString('hex')}/env`;
      await store.put(uri, Uint8Array.of(1, 2, 3));
      expect([...(await store.get(uri))]).toEqual([1, 2, 3]);
    } finally {
      store.destroy();
    }
  });

  test('a child process reaches the server through the registry with s3ChildEnv only', async () => {
    const s3 = await s3Server();
    const uri = `s3://${TEST_BUCKET}/config-${randomBytes(4).toString('hex')}/child`;
    const script = `
      import ${JSON.stringify(join(PROJECT_ROOT, 'src/blobstore/cloud/cloud-stores.ts'))};
      import { lookupBlobStore } from ${JSON.stringify(join(PROJECT_ROOT, 'src/blobstore/registry.ts'))};
      const store = lookupBlobStore(${JSON.stringify(uri)});
      await store.put(${JSON.stringify(uri)}, new TextEncoder().encode('from a child'));
      process.stdout.write(new TextDecoder().decode(await store.get(${JSON.stringify(uri)})));`;
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !k.startsWith('MEMOCALL_S3')),
    );
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        { cwd: PROJECT_ROOT, env: { ...clean, ...s3ChildEnv(s3) }, timeout: 30_000 },
        (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
      ),
    );
    expect(stdout).toBe('from a child');
  });

  test('wrong credentials are a permanent failure: refused at once, not retried', async () => {
    const s3 = await s3Server();
    const retries: unknown[] = [];
    const store = new S3Store({
      endpoint: s3.endpoint,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: 'not-the-secret' },
      retry: { minDelayMs: 1_000, onRetry: (e) => retries.push(e) },
    });
    try {
      const error = await store.put(`s3://${TEST_BUCKET}/config/denied`, Uint8Array.of(1)).catch((e: unknown) => e);
      expect((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(403);
      // onRetry reports every pause before a retry (RetryEvent.delayMs), so none means no wait.
      expect(retries).toEqual([]);
    } finally {
      store.destroy();
    }
  });

  test('a missing bucket is reported as such, not as a missing object', async () => {
    const s3 = await s3Server();
    const store = new S3Store({
      endpoint: s3.endpoint,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    try {
      const error = await store.get('s3://no-such-bucket-memocall/x').catch((e: unknown) => e);
      expect((error as Error).name).toBe('NoSuchBucket');
    } finally {
      store.destroy();
    }
  });
});
