// Credentials in a store URI (`s3://KEY:SECRET@bucket`, `?sig=`) never reach the message of a
// blob store error (issue 10, finding 14): the errors print the URI through redactUri, and the S3
// URI parser's "not a bucket name" does not quote the user information either.
import { describe, expect, test } from 'vitest';
import { BlobNotFoundError, PreconditionFailedError, UnsupportedUriError } from '../../src/blobstore/errors.js';
import { parseS3Uri } from '../../src/blobstore/cloud/s3-store.js';
import { lookupBlobStore } from '../../src/index.js';

const SECRETS = /AKIAKEY|VERYSECRET|s1gnature/;
const WITH_USER_INFO = 's3://AKIAKEY:VERYSECRET@bucket/memo/result';
const WITH_SIGNATURE = 'adls://account/container/memo/result?sv=2024&sig=s1gnature';

describe('blob store errors print URIs redacted and keep them as given in `uri`', () => {
  test.each([
    ['BlobNotFoundError', (uri: string) => new BlobNotFoundError(uri)],
    ['PreconditionFailedError (create)', (uri: string) => new PreconditionFailedError(uri, { ifNoneMatch: '*' })],
    ['PreconditionFailedError (etag)', (uri: string) => new PreconditionFailedError(uri, { ifMatch: '"e1"' })],
    ['UnsupportedUriError', (uri: string) => new UnsupportedUriError(uri, 'no store for this scheme')],
  ])('%s', (_name, make) => {
    for (const uri of [WITH_USER_INFO, WITH_SIGNATURE]) {
      const error = make(uri);
      expect(error.message).not.toMatch(SECRETS);
      expect(error.message).toMatch(/s3:\/\/\*\*\*@bucket\/memo\/result|sig=\*\*\*/);
      expect(error.uri).toBe(uri);
    }
  });

  test("the S3 parser's bad bucket name is redacted", () => {
    for (const uri of ['s3://AKIAKEY:VERYSECRET@bucket/key', 's3://AKIAKEY:VERYSECRET@bucket']) {
      const failed = (() => {
        try {
          parseS3Uri(uri, true);
        } catch (err) {
          return err as Error;
        }
        throw new Error(`${uri} was accepted`);
      })();
      expect(failed).toBeInstanceOf(UnsupportedUriError);
      expect(failed.message).toContain("'***@bucket' is not a bucket name");
      expect(failed.message).not.toMatch(SECRETS);
    }
  });

  test('an unknown scheme with credentials, through the registry', () => {
    expect(() => lookupBlobStore('nosuch://AKIAKEY:VERYSECRET@host/x')).toThrow(UnsupportedUriError);
    try {
      lookupBlobStore('nosuch://AKIAKEY:VERYSECRET@host/x');
    } catch (err) {
      expect((err as Error).message).not.toMatch(SECRETS);
    }
  });
});
