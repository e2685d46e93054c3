// Issue 10, findings 4 and 13: values that made the canonical codec hang, lose data or fail
// without naming where. Each test reproduces the red-team probe and shows it is now harmless.
import { describe, expect, test } from 'vitest';
import { argsKey } from '../../src/core/args-key.js';
import { decodeCanonical } from '../../src/core/canonical-decode.js';
import { encodeCanonical } from '../../src/core/canonical-encode.js';
import { SerializationError } from '../../src/core/serialization-error.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** The SerializationError thrown by encoding `value` under the root path `args`. */
function serializationError(value: unknown): SerializationError {
  try {
    encodeCanonical(value, 'args');
  } catch (error) {
    expect(error).toBeInstanceOf(SerializationError);
    return error as SerializationError;
  }
  throw new Error('expected a SerializationError');
}

/** A bigint of exactly `bytes` bytes of magnitude, all bytes non-zero, from a fixed pattern. */
function bigintOfBytes(bytes: number): bigint {
  const magnitude = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) magnitude[i] = ((i * 131 + 7) % 255) + 1;
  return BigInt(`0x${magnitude.toString('hex')}`);
}

// Generous limits: linear code takes milliseconds here even under load; the quadratic decoder took
// 28.6 s for 256 KiB, and the sparse array 115 s.
const WELL_WITHIN_MS = 2000;

describe('finding 4: bignums are decoded in linear time', () => {
  test('a 256 KiB bigint round-trips (positive and negative) within milliseconds, not 28 s', () => {
    const big = bigintOfBytes(256 * 1024);
    for (const value of [big, -big]) {
      const start = performance.now();
      const encoded = encodeCanonical(value);
      const decoded = decodeCanonical(encoded);
      const elapsed = performance.now() - start;
      expect(decoded === value).toBe(true);
      expect(elapsed).toBeLessThan(WELL_WITHIN_MS);
    }
  });

  test('the bytes are the documented bignum layout, and decode back to the same values', () => {
    const magnitude = bigintOfBytes(300);
    const magnitudeHex = magnitude.toString(16).padStart(600, '0');
    const expected = `c259012c${magnitudeHex}`; // tag 2, byte string of 0x12c = 300 bytes
    expect(hex(encodeCanonical(magnitude))).toBe(expected);
    // Negative: tag 3 over -1-n, so -(m + 1) has the same bytes as m under tag 3.
    expect(hex(encodeCanonical(-(magnitude + 1n)))).toBe(`c3${expected.slice(2)}`);
    for (const v of [0n, 1n, -1n, 255n, 256n, -256n, -257n, 2n ** 64n, -(2n ** 64n) - 1n, magnitude, -magnitude]) {
      expect(decodeCanonical(encodeCanonical(v)) === v).toBe(true);
    }
  });

  test('a stored bignum with leading zero bytes still decodes to its value', () => {
    // c2 43 00 01 02: not what the encoder writes, but a valid bignum (258).
    expect(decodeCanonical(Uint8Array.from([0xc2, 0x43, 0x00, 0x01, 0x02]))).toBe(258n);
    expect(decodeCanonical(Uint8Array.from([0xc3, 0x42, 0x00, 0x00]))).toBe(-1n);
  });
});

describe('finding 13: throwing getters and Proxy traps are SerializationErrors naming the path', () => {
  test('a throwing getter: the path of the property, the message and the original as cause', () => {
    const boom = new Error('weights are not loaded');
    let reads = 0;
    const model = {
      name: 'm',
      get weights(): never {
        reads++;
        throw boom;
      },
    };
    const error = serializationError([model]);
    expect(error.path).toBe('args[0].weights');
    expect(error.message).toBe('args[0].weights threw when read: weights are not loaded');
    expect(error.cause).toBe(boom);
    expect(reads).toBe(1);
  });

  test('a throwing getter on an array element', () => {
    const list = [1, 2, 3];
    Object.defineProperty(list, 1, {
      enumerable: true,
      get() {
        throw new Error('element gone');
      },
    });
    const error = serializationError([{ list }]);
    expect(error.path).toBe('args[0].list[1]');
    expect(error.message).toContain('element gone');
  });

  test('a Proxy whose get trap throws', () => {
    const trap = new Error('get trap');
    const proxy = new Proxy(
      { a: 1 },
      {
        get() {
          throw trap;
        },
      },
    );
    const error = serializationError([{ config: proxy }]);
    expect(error.path).toBe('args[0].config.a');
    expect(error.cause).toBe(trap);
  });

  test('a Proxy whose ownKeys or getPrototypeOf trap throws names the proxied value', () => {
    const ownKeys = new Proxy(
      { a: 1 },
      {
        ownKeys: () => {
          throw new Error('ownKeys trap');
        },
      },
    );
    const proto = new Proxy(
      { a: 1 },
      {
        getPrototypeOf: () => {
          throw new Error('getPrototypeOf trap');
        },
      },
    );
    for (const [value, message] of [
      [ownKeys, 'ownKeys trap'],
      [proto, 'getPrototypeOf trap'],
    ] as const) {
      const error = serializationError([1, { inner: value }]);
      expect(error.path).toBe('args[1].inner');
      expect(error.message).toBe(`args[1].inner threw while being encoded: ${message}`);
      expect((error.cause as Error).message).toBe(message);
    }
  });

  test('a revoked Proxy', () => {
    const { proxy, revoke } = Proxy.revocable([1, 2], {});
    revoke();
    const error = serializationError([proxy]);
    expect(error.path).toBe('args[0]');
    expect(error.cause).toBeInstanceOf(TypeError);
  });

  test('the encoder is usable again after such a failure', () => {
    const hostile = {
      get x(): never {
        throw new Error('x');
      },
    };
    serializationError([{ a: [1, 2], b: hostile }]);
    expect(hex(encodeCanonical([{ a: 1 }]))).toBe('81a1616101');
  });
});

describe('finding 13: arrays with extra properties are refused', () => {
  test('[1] with .meta no longer shares the key of [1]: a SerializationError naming the property', () => {
    const tagged = Object.assign([1], { meta: 'lost' });
    const error = serializationError([tagged]);
    expect(error.path).toBe('args[0].meta');
    expect(error.message).toBe(
      'args[0].meta is a property of an array: arrays with extra properties are not supported',
    );
    expect(() => argsKey([tagged])).toThrow(SerializationError);
  });

  test('long arrays too (checked without listing every index)', () => {
    const long = Object.assign(
      Array.from({ length: 100_000 }, (_, i) => i),
      { 'not an identifier': 1 },
    );
    const error = serializationError([long]);
    expect(error.path).toBe('args[0]["not an identifier"]');
  });

  test('symbol-keyed enumerable properties of arrays are refused, as on objects', () => {
    for (const length of [1, 100]) {
      const a: unknown[] = Array.from({ length }, () => 0);
      (a as unknown as Record<symbol, unknown>)[Symbol('tag')] = 1;
      expect(serializationError([a]).message).toBe('args[0] has a symbol key (Symbol(tag))');
    }
  });

  test('RegExp match arrays (index, input, groups) are refused rather than losing those', () => {
    expect(serializationError(['abc'.match(/b/)]).path).toBe('args[0].index');
  });

  test('non-enumerable extra properties stay ignored, and plain arrays keep their encoding', () => {
    for (const length of [2, 100]) {
      const plain = Array.from({ length }, (_, i) => i);
      const hidden = Array.from({ length }, (_, i) => i);
      Object.defineProperty(hidden, 'cache', { value: new Map(), enumerable: false });
      expect(hex(encodeCanonical(hidden))).toBe(hex(encodeCanonical(plain)));
      expect(decodeCanonical(encodeCanonical(hidden))).toEqual(plain);
    }
    expect(hex(encodeCanonical([1, [2, 'x'], []]))).toBe('83018202617880');
  });
});

describe('finding 13: sparse arrays are refused at their first hole, at once', () => {
  test('length 2^32-1 with no elements: a SerializationError within milliseconds, no element read', () => {
    const sparse: unknown[] = [];
    sparse.length = 2 ** 32 - 1;
    let reads = 0;
    Object.defineProperty(sparse, 2 ** 32 - 2, {
      enumerable: true,
      get() {
        reads++;
        return 1;
      },
    });
    const start = performance.now();
    const error = serializationError([sparse]);
    expect(performance.now() - start).toBeLessThan(WELL_WITHIN_MS);
    expect(error.path).toBe('args[0][0]');
    expect(error.message).toContain('is a hole in a sparse array');
    expect(reads).toBe(0);
  });

  test('any hole is refused (it would decode as undefined, a different value); undefined is not a hole', () => {
    // biome-ignore lint/suspicious/noSparseArray: the hostile value under test
    expect(serializationError([[1, , 3]]).path).toBe('args[0][1]');
    // biome-ignore lint/suspicious/noSparseArray: a hole balanced by an extra key (same key count)
    const balanced = Object.assign([1, , 3], { meta: 1 });
    expect(serializationError([balanced]).path).toBe('args[0][1]');
    expect(hex(encodeCanonical([1, undefined, 3]))).toBe('8301f703');
  });
});
