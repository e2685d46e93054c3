import { describe, expect, test } from 'vitest';
import { argsKey, hashKey } from '../../src/core/args-key.js';
import { ZERO_COPY_MIN_BYTES, encodeCanonical } from '../../src/core/canonical-encode.js';
import { parseReadableKey } from '../../src/core/readable-key.js';
import { SerializationError } from '../../src/core/serialization-error.js';
import { sha256 } from '../../src/core/sha256.js';

describe('argsKey', () => {
  test('is SHA-256 of the canonical encoding of the arguments array, and nothing else', () => {
    const args = [1, 'two', { three: 3 }];
    const { key, digest, chunks } = argsKey(args);
    expect(digest).toEqual(sha256(encodeCanonical(args)));
    expect(parseReadableKey(key)).toEqual(digest);
    expect(Buffer.concat(chunks)).toEqual(Buffer.from(encodeCanonical(args)));
  });

  test('trailing undefined arguments are dropped', () => {
    expect(argsKey([1, undefined]).key).toBe(argsKey([1]).key);
    expect(argsKey([1, undefined, undefined]).key).toBe(argsKey([1]).key);
    expect(argsKey([undefined]).key).toBe(argsKey([]).key);
  });

  test('undefined before a defined argument is kept', () => {
    expect(argsKey([undefined, 1]).key).not.toBe(argsKey([1]).key);
    expect(argsKey([1, undefined, 2]).key).not.toBe(argsKey([1, 2]).key);
    expect(argsKey([null]).key).not.toBe(argsKey([]).key);
  });

  test('keys depend on values only: object key order, Map/Set order, Buffer vs Uint8Array', () => {
    expect(argsKey([{ a: 1, b: { c: [1, 2], d: 'x' } }]).key).toBe(argsKey([{ b: { d: 'x', c: [1, 2] }, a: 1 }]).key);
    expect(
      argsKey([
        new Map([
          ['x', 1],
          ['y', 2],
        ]),
      ]).key,
    ).toBe(
      argsKey([
        new Map([
          ['y', 2],
          ['x', 1],
        ]),
      ]).key,
    );
    expect(argsKey([new Set([1, 2, 3])]).key).toBe(argsKey([new Set([3, 2, 1])]).key);
    expect(argsKey([Buffer.from('abc')]).key).toBe(argsKey([new TextEncoder().encode('abc')]).key);
    expect(argsKey([{ when: new Date(5), n: -0 }]).key).toBe(argsKey([{ n: 0, when: new Date(5) }]).key);
  });

  test('different values give different keys', () => {
    const keys = [
      [5],
      [5n],
      ['5'],
      [5.5],
      [[5]],
      [{ 5: 5 }],
      [new Set([5])],
      [new Map([[5, 5]])],
      [true],
      [1, 2],
      [2, 1],
    ].map((args) => argsKey(args).key);
    expect(new Set(keys).size).toBe(keys.length);
  });

  test('errors name the argument path', () => {
    try {
      argsKey([1, { model: { fit: () => 1 } }]);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(SerializationError);
      expect((error as SerializationError).path).toBe('args[1].model.fit');
      expect((error as SerializationError).message).toBe('args[1].model.fit is a function');
    }
  });

  test('a large byte array is hashed from its own memory, as a separate chunk', () => {
    const big = new Uint8Array(ZERO_COPY_MIN_BYTES * 2).fill(3);
    const { digest, chunks } = argsKey([big]);
    expect(chunks).toContain(big);
    expect(digest).toEqual(sha256(encodeCanonical([big])));
  });
});

describe('hashKey', () => {
  test('hashes any value with the given root path', () => {
    expect(hashKey({ a: 1 }).digest).toEqual(sha256(encodeCanonical({ a: 1 })));
    expect(() => hashKey({ f: () => 1 }, 'config')).toThrow(new SerializationError('config.f', 'is a function'));
    expect(() => hashKey(() => 1)).toThrow(new SerializationError('value', 'is a function'));
  });
});
