// The decoder's pre-scan, refusal by refusal: nesting depth through every kind of container,
// truncation found at the head that announced the length, 64-bit heads, the exact shape of tag
// 1001, and that "__proto__" is refused only as a plain-object key. Each message names the byte
// offset, which is what someone debugging a corrupted stored result reads.
import { createRequire } from 'node:module';
import { describe, expect, test } from 'vitest';
import { decodeCanonical } from '../../src/core/canonical-decode.js';
import { encodeCanonical } from '../../src/core/canonical-encode.js';
import { registerCodec } from '../../src/core/codec-registry.js';
import { MemocallError } from '../../src/core/memocall-error.js';

const fromHex = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));

function decodeError(bytes: Uint8Array | string): MemocallError {
  try {
    decodeCanonical(typeof bytes === 'string' ? fromHex(bytes) : bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(MemocallError);
    expect((error as MemocallError).code).toBe('MEMOCALL_DECODE');
    return error as MemocallError;
  }
  throw new Error('expected a MEMOCALL_DECODE error');
}

const refused = (problem: string, at: number) => `not memocall canonical CBOR: ${problem} at byte ${at}`;

describe('nesting depth', () => {
  // Each level's opening bytes; the innermost item is 0x00.
  test.each<[string, string, string]>([
    ['arrays', '81', ''],
    ['objects', 'a16161', ''],
    ['Sets', 'd9010281', ''],
    ['Maps (tag 259)', 'd90103a100', ''],
    ['codec payloads (tag 27)', 'd81b826178', ''],
    ['Maps as keys of Maps', 'd90103a1', '00'],
  ])('nesting of %s far past the limit is refused by the scan, before decoding', (_what, open, after) => {
    const levels = 1100;
    const bytes = fromHex(open.repeat(levels) + '00' + after.repeat(levels));
    expect(decodeError(bytes).message).toMatch(/^not memocall canonical CBOR: nesting too deep at byte \d+$/);
  });

  test('the limit is 2 × MAX_DEPTH + 8 item levels: 1008 nested arrays decode, 1009 do not', () => {
    const nested = (n: number) => fromHex(`${'81'.repeat(n)}00`);
    let v = decodeCanonical(nested(1008));
    for (let i = 0; i < 1008; i++) v = (v as unknown[])[0];
    expect(v).toBe(0);
    expect(decodeError(nested(1009)).message).toBe(refused('nesting too deep', 1009));
  });
});

describe('truncation is reported at the head that announced the missing bytes', () => {
  test.each<[string, string, number]>([
    ['an array of 3 with one item', '8301', 0],
    ['a map of 3 entries with one key', 'a3616100', 0],
    ['a byte string of 5 with 2 bytes', '450102', 0],
    ['a text string of 4 with 1 byte', '6461', 0],
    ['a tag 259 Map of 3 entries with one', 'd90103a30000', 4],
    ['a 2-byte head cut short', '19', 0],
    ['a half float cut short', 'f93e', 0],
    ['a nested array cut short', '82018201', 2],
  ])('%s', (_what, hex, at) => {
    expect(decodeError(hex).message).toBe(refused('truncated data', at));
  });

  test('an indefinite-length tag 259 Map is refused at its own head', () => {
    expect(decodeError('d90103bf00ff').message).toBe(refused('indefinite length', 3));
    expect(decodeError('9f00ff').message).toBe(refused('indefinite length', 0));
    expect(decodeError('1c').message).toBe(refused('reserved additional information', 0));
  });
});

describe('64-bit heads', () => {
  test('integers up to ±(2^53 − 1) decode; beyond, they are refused (the encoder writes those as floats)', () => {
    expect(decodeCanonical(fromHex('1b001fffffffffffff'))).toBe(2 ** 53 - 1);
    expect(decodeCanonical(fromHex('3b001ffffffffffffe'))).toBe(-(2 ** 53 - 1));
    expect(decodeCanonical(fromHex('1b0000000100000005'))).toBe(2 ** 32 + 5);
    expect(decodeError('1b0020000000000000').message).toBe(refused('integer or length out of range', 0));
    expect(decodeError('3b001fffffffffffff').message).toBe(refused('integer or length out of range', 0));
    expect(decodeError('3b0020000000000000').message).toBe(refused('integer or length out of range', 0));
  });

  test('a length with an 8-byte head decodes when it is small, and is refused above 2^32', () => {
    expect(decodeCanonical(fromHex('5b0000000000000002abcd'))).toEqual(new Uint8Array([0xab, 0xcd]));
    expect(decodeCanonical(fromHex('9b000000000000000101'))).toEqual([1]);
    expect(decodeError('5b0000000100000000').message).toBe(refused('integer or length out of range', 0));
    expect(decodeError('9b0000000100000000').message).toBe(refused('integer or length out of range', 0));
  });
});

describe('tag shapes', () => {
  // d903e9 = tag 1001
  test.each<[string, string, string, number]>([
    ['a map of one entry', 'd903e9a1011a5f5e1000', 'tag 1001 content other than {1: s, -3: ms}', 3],
    ['key 2 instead of 1', 'd903e9a2021a5f5e10002200', 'tag 1001 content other than {1: s, -3: ms}', 3],
    ['key -2 instead of -3', 'd903e9a2011a5f5e10002100', 'tag 1001 content other than {1: s, -3: ms}', 10],
    ['float seconds', 'd903e9a201f93c002200', 'tag 1001 seconds that are not an integer', 5],
    ['nothing after the keys', 'd903e9a201', 'tag 1001 seconds that are not an integer', 5],
    ['negative milliseconds', 'd903e9a2011a5f5e10002220', 'tag content that is not an unsigned integer', 11],
    ['text instead of a map', 'd903e96161', 'tag 1001 content other than {1: s, -3: ms}', 3],
  ])('tag 1001 with %s is refused', (_what, hex, problem, at) => {
    expect(decodeError(hex).message).toBe(refused(problem, at));
  });

  test('negative seconds (before 1970) decode', () => {
    const before = new Date(-1500);
    expect(decodeCanonical(encodeCanonical(before))).toEqual(before);
  });

  test.each<[string, string, string, number]>([
    ['a bignum of text', 'c26161', 'tag content that is not a byte string', 1],
    ['a tag 27 of 3 elements', 'd81b83617800f6', 'tag 27 content that is not a 2-element array', 2],
    ['a tag 27 named by a number', 'd81b820100', 'tag content that is not a text string', 3],
    ['a Set tag with nothing after it', 'd90102', 'tag content that is not an array', 3],
    ['a Set of a map', 'd90102a0', 'tag content that is not an array', 3],
    ['a Map of an array', 'd9010380', 'tag content that is not a map', 3],
    ['a typed array of text', 'd8456161', 'tag content that is not a byte string', 2],
    ['a Float32Array of 3 bytes', 'd855' + '43000000', 'typed array of 3 bytes', 2],
    ['an unknown tag', 'd8ff00', 'tag 255', 0],
    ['a map with a number key', 'a10000', 'a map key that is not a text string', 1],
    ['a simple value', 'f0', 'simple value 16', 0],
    ['two values', '0000', 'data after the end of the value', 1],
  ])('%s is refused', (_what, hex, problem, at) => {
    expect(decodeError(hex).message).toBe(refused(problem, at));
  });

  test('typed arrays whose length head is 1, 2, 3 or 5 bytes long decode', () => {
    for (const n of [2, 3, 24, 32, 8192, 8193]) {
      const a = new Float64Array(n).map((_, i) => i / 3);
      expect(decodeCanonical(encodeCanonical(a))).toEqual(a);
      const u = new Uint16Array(n * 4).map((_, i) => i);
      expect(decodeCanonical(encodeCanonical(u))).toEqual(u);
    }
  });
});

describe('"__proto__" is refused only as a plain-object key', () => {
  test('as the root, a Set element, a Map key or value, a codec name or payload, it decodes', () => {
    class Holder {
      constructor(readonly v: unknown) {}
    }
    registerCodec(
      'test-scan:Holder',
      Holder,
      (h) => h.v,
      (v) => new Holder(v),
    );
    for (const value of [
      '__proto__',
      new Set(['__proto__']),
      new Map([['__proto__', '__proto__']]),
      [new Holder('__proto__')],
      { a: ['__proto__'] },
    ]) {
      expect(decodeCanonical(encodeCanonical(value))).toEqual(value);
    }
  });

  test('keys that only start or end like it decode', () => {
    for (const key of ['__proto__x', '__proto_', 'x__proto__', '__proto_x']) {
      const o = JSON.parse(`{"${key}": 1}`);
      expect(decodeCanonical(encodeCanonical(o))).toEqual(o);
    }
    expect(decodeError(fromHex('a1695f5f70726f746f5f5f00')).message).toBe(refused('a "__proto__" key', 1));
  });
});

describe('decodeCanonical around cbor-x', () => {
  test('refuses anything but a Uint8Array; a Buffer is read as bytes, and byte strings come back as Uint8Array', () => {
    for (const bad of [[0], 'a0', null, new ArrayBuffer(1)]) {
      expect(() => decodeCanonical(bad as never)).toThrow(
        new MemocallError('MEMOCALL_DECODE', 'decodeCanonical expects a Uint8Array'),
      );
    }
    const out = decodeCanonical(Buffer.from('420102', 'hex')) as Uint8Array;
    expect(Object.getPrototypeOf(out)).toBe(Uint8Array.prototype);
    expect([...out]).toEqual([1, 2]);
  });

  test('an exception of a codec decode becomes MEMOCALL_DECODE "could not decode", with its cause', () => {
    class Fragile {}
    const failure = new TypeError('payload rejected');
    registerCodec(
      'test-scan:Fragile',
      Fragile,
      () => 1,
      () => {
        throw failure;
      },
    );
    const e = decodeError(encodeCanonical(new Fragile()));
    expect(e.message).toBe('could not decode: payload rejected');
    expect((e as Error & { cause?: unknown }).cause).toBe(failure);
    class Odd {}
    registerCodec(
      'test-scan:Odd',
      Odd,
      () => 1,
      () => {
        throw 'a string';
      },
    );
    expect(decodeError(encodeCanonical(new Odd())).message).toBe('could not decode: a string');
    // A MemocallError from the codec passes through as it is.
    class Strict {}
    const own = new MemocallError('MEMOCALL_DECODE', 'strict payload');
    registerCodec(
      'test-scan:Strict',
      Strict,
      () => 1,
      () => {
        throw own;
      },
    );
    expect(decodeError(encodeCanonical(new Strict()))).toBe(own);
    expect(decodeError(fromHex('d81b826c6e6f2d737563682d636f646500')).message).toBe(
      'no codec is registered under the name "no-such-code" (register it with registerCodec before decoding)',
    );
  });

  test("outside decodeCanonical, tags 27 and 1001 keep cbor-x's own meaning, even after a failed decode", () => {
    decodeError('d81b826c6e6f2d737563682d636f646500'); // a codec name nobody registered
    expect(process.env.CBOR_NATIVE_ACCELERATION_DISABLED).toBeUndefined();
    // The CommonJS cbor-x the decoder loads (its tag handlers are global to that instance).
    const { Decoder } = createRequire(import.meta.url)('cbor-x') as typeof import('cbor-x');
    const plain = new Decoder({ useRecords: false } as object);
    const time = plain.decode(Buffer.from('d903e9a2011a5f5e1000220a', 'hex'));
    expect(time).not.toBeInstanceOf(Date);
    expect((time as { tag: number }).tag).toBe(1001);
    const regex = plain.decode(Buffer.from('d81b83665265674578706261786167', 'hex'));
    expect(regex).toBeInstanceOf(RegExp);
    expect(String(regex)).toBe('/ax/g');
  });
});
