import { expect, test } from 'vitest';
import { redactUri, redactUris } from '../../src/core/redact-uri.js';

test('redactUri replaces user information and secret query parameters, and nothing else', () => {
  expect(redactUri('redis://:hunter2@h:6379/q')).toBe('redis://***@h:6379/q');
  expect(redactUri('redis://user:p@ss@h/q')).toBe('redis://***@h/q');
  expect(redactUri('s3://KEY:SECRET@bucket/memo')).toBe('s3://***@bucket/memo');
  expect(redactUri('s3:/KEY:SECRET@bucket/memo')).toBe('s3:/***@bucket/memo');
  // Malformed (the password holds a '/'): everything up to the last '@' goes.
  expect(redactUri('redis://user:pa/ss@h/q')).toBe('redis://***@h/q');
  expect(redactUri('https://acct.blob.core.windows.net/c/x?sv=2020&sig=abc%2Bdef&se=1')).toBe(
    'https://acct.blob.core.windows.net/c/x?sv=2020&sig=***&se=1',
  );
  // Memo URIs carry '@' before a logic key: they are left alone.
  for (const uri of [
    'file:///tmp/store/memocall-v2/p/train@v2/KiboNeda.abc',
    'memory://m/memocall-v2/p/train@v2/k',
    's3://bucket/memocall-v2/p/train@v2/k',
    '/plain/path@x',
  ])
    expect(redactUri(uri)).toBe(uri);
});

test('redactUris cleans free text, including a secret quoted again after its URI', () => {
  expect(
    redactUris("s3://AKIAEXAMPLE:wJalrSECRET@bucket/x: 'AKIAEXAMPLE:wJalrSECRET@bucket' is not a bucket name"),
  ).toBe("s3://***@bucket/x: '***@bucket' is not a bucket name");
  expect(redactUris('not a Redis URL: "redis://:hunter2@h" (expected ...)')).toBe(
    'not a Redis URL: "redis://***@h" (expected ...)',
  );
  expect(redactUris('no object at file:///tmp/a@b/result')).toBe('no object at file:///tmp/a@b/result');
});
