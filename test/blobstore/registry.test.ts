import { describe, expect, test } from 'vitest';
import type { BlobStore } from '../../src/blobstore/blob-store.js';
import { UnsupportedUriError } from '../../src/blobstore/errors.js';
import { FileBlobStore } from '../../src/blobstore/local/file-store.js';
import { MemoryBlobStore } from '../../src/blobstore/memory-store.js';
import {
  lookupBlobStore,
  parseBlobUri,
  registerBlobStore,
  registeredBlobStoreSchemes,
} from '../../src/blobstore/registry.js';

describe('blob store registry', () => {
  test('file:// and memory:// are there by default', () => {
    expect(registeredBlobStoreSchemes()).toEqual(expect.arrayContaining(['file', 'memory']));
    expect(lookupBlobStore('file:///tmp/x')).toBeInstanceOf(FileBlobStore);
    expect(lookupBlobStore('memory://reg/x')).toBeInstanceOf(MemoryBlobStore);
  });

  test('one file store for every file URI', () => {
    const a = lookupBlobStore('file:///tmp/a/b');
    expect(lookupBlobStore('file:///var/c')).toBe(a);
    expect(lookupBlobStore('file://localhost/var/c')).toBe(a);
    expect(lookupBlobStore('FILE:///var/c')).toBe(a);
  });

  test('one memory store per name: names are separate namespaces', async () => {
    const a = lookupBlobStore('memory://reg-a/x');
    expect(lookupBlobStore('memory://reg-a/y/z')).toBe(a);
    const b = lookupBlobStore('memory://reg-b/x');
    expect(b).not.toBe(a);
    await a.put('memory://reg-a/k', Uint8Array.of(1));
    expect(await b.head('memory://reg-b/k')).toBeNull();
    expect(await lookupBlobStore('memory://reg-a/k').head('memory://reg-a/k')).not.toBeNull();
  });

  test('an unknown scheme names the URI and the registered schemes', () => {
    const e = (() => {
      try {
        lookupBlobStore('gs://bucket/key');
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(UnsupportedUriError);
    expect((e as Error).message).toContain('gs://bucket/key');
    expect((e as Error).message).toContain('file://');
    expect((e as Error).message).toContain('memory://');
  });

  test('a string that is not a URI is rejected', () => {
    for (const bad of ['/tmp/x', 'file:/tmp/x', '', 'C:\\memo', '://x']) {
      expect(() => lookupBlobStore(bad), bad).toThrow(UnsupportedUriError);
    }
  });

  test('a factory runs once per root; registering again replaces it', () => {
    const made: string[] = [];
    const fake = (uri: string): BlobStore => {
      made.push(uri);
      return new MemoryBlobStore();
    };
    registerBlobStore('fake', fake);
    const a = lookupBlobStore('fake://one/x');
    expect(lookupBlobStore('fake://one/y')).toBe(a);
    expect(lookupBlobStore('fake://one')).toBe(a);
    const b = lookupBlobStore('fake://two/x');
    expect(b).not.toBe(a);
    expect(made).toEqual(['fake://one/x', 'fake://two/x']);

    registerBlobStore('FAKE', () => b);
    expect(lookupBlobStore('fake://one/x')).toBe(b);
  });

  test('a factory that throws is not cached', () => {
    let fail = true;
    registerBlobStore('flaky', () => {
      if (fail) throw new Error('SDK missing');
      return new MemoryBlobStore();
    });
    expect(() => lookupBlobStore('flaky://x/y')).toThrow('SDK missing');
    fail = false;
    expect(lookupBlobStore('flaky://x/y')).toBeInstanceOf(MemoryBlobStore);
  });

  test('invalid scheme names are refused', () => {
    expect(() => registerBlobStore('s3://', () => new MemoryBlobStore())).toThrow(TypeError);
    expect(() => registerBlobStore('', () => new MemoryBlobStore())).toThrow(TypeError);
  });

  test('parseBlobUri', () => {
    expect(parseBlobUri('file:///a/b')).toEqual({ scheme: 'file', authority: '', path: '/a/b' });
    expect(parseBlobUri('S3://bucket/pre/fix')).toEqual({ scheme: 's3', authority: 'bucket', path: '/pre/fix' });
    expect(parseBlobUri('adls://acct/container/p')).toEqual({
      scheme: 'adls',
      authority: 'acct',
      path: '/container/p',
    });
    expect(parseBlobUri('memory://name')).toEqual({ scheme: 'memory', authority: 'name', path: '' });
  });
});
