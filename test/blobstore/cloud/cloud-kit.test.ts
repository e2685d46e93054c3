import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { httpStatusOf, responseBody, retryIntegrityOnce, totalSizeOf } from '../../../src/blobstore/cloud/cloud-kit.js';
import { IntegrityError } from '../../../src/blobstore/cloud/integrity.js';
import { TransientError } from '../../../src/blobstore/cloud/retry.js';

describe('cloud kit (what the S3 and Azure stores share)', () => {
  test('httpStatusOf reads both SDKs’ shapes', () => {
    expect(httpStatusOf({ $metadata: { httpStatusCode: 412 } })).toBe(412); // AWS
    expect(httpStatusOf({ statusCode: 404 })).toBe(404); // Azure
    expect(httpStatusOf(new Error('x'))).toBeUndefined();
    expect(httpStatusOf(null)).toBeUndefined();
  });

  test('totalSizeOf: the total of Content-Range, else Content-Length, else a transient failure', () => {
    expect(totalSizeOf('bytes 0-7/1234', 8, 's3://b/k')).toBe(1234);
    expect(totalSizeOf(undefined, 0, 's3://b/k')).toBe(0);
    expect(() => totalSizeOf(undefined, undefined, 's3://b/k')).toThrow(TransientError);
  });

  test('responseBody: chunks in order, an absent body is empty, a socket error is transient', async () => {
    const read = async (body: AsyncIterable<Uint8Array>): Promise<string> => {
      let text = '';
      for await (const chunk of body) text += Buffer.from(chunk).toString();
      return text;
    };
    expect(await read(responseBody(Readable.from([Buffer.from('ab'), Buffer.from('c')]), 'get'))).toBe('abc');
    expect(await read(responseBody(undefined, 'get'))).toBe('');
    const failing = new Readable({ read() {} });
    failing.push(Buffer.from('a'));
    setImmediate(() => failing.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })));
    await expect(read(responseBody(failing, 'get'))).rejects.toBeInstanceOf(TransientError);
  });

  test('retryIntegrityOnce: one more full read after a mismatch, then final', () => {
    const mismatch = new IntegrityError('s3://b/k', 'aa', 'bb');
    expect(retryIntegrityOnce(mismatch, 1)).toBe('transient');
    expect(retryIntegrityOnce(mismatch, 2)).toBe('permanent');
    expect(retryIntegrityOnce(Object.assign(new Error('reset'), { code: 'ECONNRESET' }), 5)).toBe('transient');
  });
});
