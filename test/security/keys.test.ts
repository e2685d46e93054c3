// Finding 8 of issue 10: object keys that a store would fold (`..`, `.`, empty segments) or misread
// (backslash, NUL) are refused before any request, and invocationOutputFqn cannot leave the
// invocation's output namespace: an output must never replace another call's write-once record.
import { afterAll, describe, expect, test } from 'vitest';
import { AzureStore, parseAzureUri } from '../../src/blobstore/cloud/azure-store.js';
import { S3Store, parseS3Uri } from '../../src/blobstore/cloud/s3-store.js';
import { PreconditionFailedError, UnsupportedUriError } from '../../src/blobstore/errors.js';
import { lookupBlobStore } from '../../src/blobstore/registry.js';
import { runInInvocation } from '../../src/execute/invocation-context.js';
import { InvalidOutputNameError, invocationOutputFqn } from '../../src/index.js';
import type { MemoUriParts } from '../../src/protocol/memo-uri.js';
import { skipRequested } from '../support/servers.js';
import { azureSetup, s3Setup, stopCloudServers } from '../files/cloud-setups.js';

afterAll(stopCloudServers);

const BAD_KEYS: Array<[string, RegExp]> = [
  ['a/../b', /"\.\." path segments/],
  ['../b', /"\.\." path segments/],
  ['a/..', /"\.\." path segments/],
  ['a/./b', /"\." path segments/],
  ['a/%2e%2E/b', /"\.\." path segments/],
  ['a%2F..%2Fb', /"\.\." path segments/],
  ['a//b', /empty path segments/],
  ['/a', /empty path segments/],
  ['a/', /empty path segments/],
  ['a\\..\\b', /contain "\\"/],
  ['a\0b', /control characters/],
  ['a%00b', /control characters/],
];

describe('object keys of the cloud stores', () => {
  test.each(BAD_KEYS)('s3 refuses %j, naming the URI and the rule', (key, rule) => {
    const uri = `s3://bucket/${key}`;
    expect(() => parseS3Uri(uri)).toThrow(UnsupportedUriError);
    expect(() => parseS3Uri(uri)).toThrow(rule);
    expect(() => parseS3Uri(uri)).toThrow(uri);
  });

  test.each(BAD_KEYS)('azure refuses %j in every URI form', (key, rule) => {
    for (const uri of [
      `adls://acct/data/${key}`,
      `https://acct.blob.core.windows.net/data/${key}`,
      `http://127.0.0.1:10000/devstoreaccount1/data/${key}`,
    ]) {
      expect(() => parseAzureUri(uri, { env: {} } as never)).toThrow(UnsupportedUriError);
      expect(() => parseAzureUri(uri, { env: {} } as never)).toThrow(rule);
    }
  });

  test('ordinary keys and listing prefixes still work', () => {
    expect(parseS3Uri('s3://bkt/a/b.c/..d/x..y/.hidden').key).toBe('a/b.c/..d/x..y/.hidden');
    expect(parseS3Uri('s3://bkt/a/b/', true).key).toBe('a/b/');
    expect(parseS3Uri('s3://bkt/a/partial', true).key).toBe('a/partial');
    expect(parseS3Uri('s3://bkt/', true).key).toBe('');
    expect(() => parseS3Uri('s3://bkt/a/../', true)).toThrow(UnsupportedUriError);
    expect(() => parseS3Uri('s3://bkt//a', true)).toThrow(UnsupportedUriError);
    expect(parseAzureUri('adls://acct/data/x/y/', { env: {} } as never, true).blobName).toBe('x/y/');
    expect(() => parseAzureUri('adls://acct/data/x/../', { env: {} } as never, true)).toThrow(UnsupportedUriError);
  });

  test('refused before any request: a store whose endpoint does not answer fails at once with the key rule', async () => {
    const azure = new AzureStore({ endpoint: 'http://127.0.0.1:9/{account}', sasToken: 'sv=x' });
    const s3 = new S3Store({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1' } as never);
    for (const [store, uri] of [
      [azure, 'adls://acct/data/a/../b'],
      [s3, 's3://bucket/a/../b'],
    ] as const) {
      await expect(store.put(uri, new Uint8Array([1]))).rejects.toThrow(UnsupportedUriError);
      await expect(store.get(uri)).rejects.toThrow(UnsupportedUriError);
      await expect(store.head(uri)).rejects.toThrow(UnsupportedUriError);
      await expect(store.delete(uri)).rejects.toThrow(UnsupportedUriError);
    }
  });
});

const memo = (blobRoot: string): MemoUriParts => ({
  blobRoot,
  pipelineId: 'p',
  functionId: 'f',
  logicKey: undefined,
  callsSegment: undefined,
  argsKey: 'k',
});

describe('invocationOutputFqn', () => {
  const inCall = <T>(fn: () => T): T =>
    runInInvocation({ memoUri: 'memory://x/memocall-v1/p/f/k', memo: memo('memory://x'), runId: 'run1' }, fn);
  const base = 'memory://x/p/f/k/run1';

  test('normalizes names inside the namespace', () => {
    inCall(() => {
      expect(invocationOutputFqn()).toBe(base);
      expect(invocationOutputFqn('model.bin')).toBe(`${base}/model.bin`);
      expect(invocationOutputFqn('/a//./b\\c')).toBe(`${base}/a/b/c`);
      expect(invocationOutputFqn('a/../b')).toBe(`${base}/b`);
    });
  });

  test('refuses names that leave it', () => {
    inCall(() => {
      for (const name of ['..', '../x', 'a/../../x', '../../../../memocall-v1/p/f/k/result', '..\\..\\x', 'a\0b']) {
        expect(() => invocationOutputFqn(name), name).toThrow(InvalidOutputNameError);
      }
    });
  });
});

/** Plants a write-once result, then tries to replace it from an output namespace by `..`. */
async function cannotReplaceAnotherCallsResult(root: string): Promise<void> {
  const store = lookupBlobStore(root);
  const victim = `${root}/memocall-v1/p/victim/k/result`;
  await store.put(victim, new TextEncoder().encode('the real result'), { ifNoneMatch: '*' });
  const escaping = '../../../../memocall-v1/p/victim/k/result';
  await runInInvocation({ memoUri: `${root}/memocall-v1/p/f/k`, memo: memo(root), runId: 'run1' }, async () => {
    expect(() => invocationOutputFqn(escaping)).toThrow(InvalidOutputNameError);
    // The same URI built by hand (what the old invocationOutputFqn returned) is refused by the store.
    const forged = `${invocationOutputFqn()}/${escaping}`;
    await expect(store.put(forged, new TextEncoder().encode('planted'))).rejects.toThrow(UnsupportedUriError);
    await expect(store.put(forged.replace(/\.\./g, '%2e%2e'), new Uint8Array([1]))).rejects.toThrow(
      UnsupportedUriError,
    );
  });
  expect(new TextDecoder().decode(await store.get(victim))).toBe('the real result');
  // Still write-once.
  await expect(store.put(victim, new Uint8Array([2]), { ifNoneMatch: '*' })).rejects.toThrow(PreconditionFailedError);
}

describe.skipIf(skipRequested('azure'))('on Azure (azurite)', () => {
  test('an output cannot replace another call’s result through ".." segments', async () => {
    await cannotReplaceAnotherCallsResult((await azureSetup('keys')).root);
  });
});

describe.skipIf(skipRequested('s3'))('on S3 (Ceph RGW)', () => {
  test('an output cannot replace another call’s result through ".." segments', async () => {
    await cannotReplaceAnotherCallsResult((await s3Setup('keys')).root);
  });
});
