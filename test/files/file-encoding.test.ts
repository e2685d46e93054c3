import { describe, expect, test } from 'vitest';
import { argsKey } from '../../src/core/args-key.js';
import { decodeCanonical } from '../../src/core/canonical-decode.js';
import { encodeCanonical } from '../../src/core/canonical-encode.js';
import {
  DestFile,
  FileNotPreparedError,
  SerializationError,
  Source,
  SrcFile,
  dest,
  fromUri,
  localSrc,
  src,
} from '../../src/index.js';

// The encoding of file values is part of the key format (KEY_FORMAT_VERSION, docs/keys.md): pinned here.
const SHA = 'ab'.repeat(32);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('file values in the canonical encoding', () => {
  test('a remote SrcFile is tag 27 ["memocall:src-file", {sha256, size, uri}]', () => {
    const bytes = encodeCanonical(src('s3://b/k', { sha256: SHA, size: 5 }));
    expect(hex(bytes)).toBe(
      'd81b82' +
        '71' +
        Buffer.from('memocall:src-file').toString('hex') +
        'a3' +
        '6375726968' +
        Buffer.from('s3://b/k').toString('hex') +
        '6473697a6505' +
        '66736861323536' +
        '7840' +
        Buffer.from(SHA).toString('hex'),
    );
    const back = decodeCanonical(bytes) as SrcFile;
    expect(back).toBeInstanceOf(SrcFile);
    expect([back.uri, back.sha256, back.size]).toEqual(['s3://b/k', SHA, 5]);
    expect(argsKey([src('s3://b/k', { sha256: SHA, size: 5 })]).key).toBe(
      'KeniKana.otRC8mgkHEMEOhTtjfLH1y_eEVG5wLk1SgIlxKk',
    ); // recomputed in Python from the bytes above
  });

  test('Sources and SrcFiles with the same content and URI are still different values', () => {
    expect(argsKey([fromUri('s3://b/k', { sha256: SHA, size: 5 })]).key).not.toBe(
      argsKey([src('s3://b/k', { sha256: SHA, size: 5 })]).key,
    );
    expect(decodeCanonical(encodeCanonical(fromUri('s3://b/k', { sha256: SHA, size: 5 })))).toBeInstanceOf(Source);
  });

  test('a DestFile is its URI and the local path it was given', () => {
    const back = decodeCanonical(encodeCanonical(dest('s3://b/out.csv', 'out/out.csv'))) as DestFile;
    expect(back).toBeInstanceOf(DestFile);
    expect([back.uri, back.pointerPath, back.sha256]).toEqual(['s3://b/out.csv', 'out/out.csv', undefined]);
    expect(argsKey([dest('s3://b/x', 'a')]).key).not.toBe(argsKey([dest('s3://b/x', 'b')]).key);
  });

  test('a file whose content hash is not known yet is refused, naming the path', () => {
    let error: unknown;
    try {
      argsKey([{ input: src('s3://b/unknown') }]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SerializationError);
    expect((error as Error).message).toMatch(
      /^args\[0\]\.input could not be encoded by codec "memocall:src-file".*no content hash yet/,
    );
    expect((error as Error & { cause?: unknown }).cause ?? new FileNotPreparedError('x')).toBeInstanceOf(
      FileNotPreparedError,
    );
  });

  test('localSrc refuses a missing file at once', () => {
    expect(() => localSrc('/definitely/not/here.csv')).toThrow(/is not a readable file/);
  });
});
