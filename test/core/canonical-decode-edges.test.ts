// Boundaries of the decoder's checks that the golden vectors do not reach.
import { describe, expect, test } from 'vitest';
import { decodeCanonical } from '../../src/core/canonical-decode.js';
import { encodeCanonical } from '../../src/core/canonical-encode.js';
import { MemocallError } from '../../src/core/memocall-error.js';

const fromHex = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));

describe('tag 1001 time {1: seconds, -3: milliseconds}', () => {
  // d903e9 = tag 1001, a2 = map of 2, 01 = key 1, 1a<4 bytes> = seconds, 22 = key -3, 19<2 bytes> = ms
  const time = (millisHex: string) => fromHex(`d903e9a2011a5f5e100022${millisHex}`); // 1600000000 s

  test('999 milliseconds, the largest valid value, decodes', () => {
    const date = decodeCanonical(time('1903e7')) as Date;
    expect(date).toBeInstanceOf(Date);
    expect(date.getTime()).toBe(1_600_000_000_999);
    expect(encodeCanonical(date)).toEqual(time('1903e7')); // and is canonical
  });

  test.each([
    ['1000', '1903e8'],
    ['1001', '1903e9'],
    ['65535', '19ffff'],
  ])('%s milliseconds is refused (a second has 1000)', (_label, millisHex) => {
    let error: unknown;
    try {
      decodeCanonical(time(millisHex));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MemocallError);
    expect((error as MemocallError).code).toBe('MEMOCALL_DECODE');
    expect((error as Error).message).toMatch(/malformed tag 1001 time/);
  });
});

describe('floats of every width, inside a container the pre-scan must step over', () => {
  test('half, single and double precision decode; the scan finds the end of each', () => {
    // [f16 1.5, f32 100000, f64 1.5, "x"]
    expect(decodeCanonical(fromHex('84f93e00fa47c35000fb3ff80000000000006178'))).toEqual([1.5, 100000, 1.5, 'x']);
  });
});

describe('tag 1001 layout', () => {
  test.each([
    ['seconds as a float', 'd903e9a201f93e002200', /seconds that are not an integer/],
    ['milliseconds as a float', 'd903e9a2011a5f5e1000f93e00', /content other than \{1: s, -3: ms\}/],
    ['key -4 instead of -3', 'd903e9a2011a5f5e10002300', /content other than \{1: s, -3: ms\}/],
    ['a map of one entry', 'd903e9a1011a5f5e1000', /content other than \{1: s, -3: ms\}/],
    ['key 2 instead of 1', 'd903e9a2021a5f5e10002200', /content other than \{1: s, -3: ms\}/],
  ])('%s is refused', (_label, hex, message) => {
    let error: unknown;
    try {
      decodeCanonical(fromHex(hex));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MemocallError);
    expect((error as Error).message).toMatch(message);
  });
});

describe('"__proto__" is refused only as a plain-object key', () => {
  test('a 9-character key that is not "__proto__" decodes', () => {
    expect(decodeCanonical(encodeCanonical({ abcdefghi: 1, __proto_x: 2 }))).toEqual({ abcdefghi: 1, __proto_x: 2 });
  });

  test('"__proto__" as a value, an array item, a nested value or a Map key decodes', () => {
    expect(decodeCanonical(encodeCanonical({ a: '__proto__' }))).toEqual({ a: '__proto__' });
    expect(decodeCanonical(encodeCanonical(['__proto__']))).toEqual(['__proto__']);
    expect(decodeCanonical(encodeCanonical({ a: { b: ['__proto__'] } }))).toEqual({ a: { b: ['__proto__'] } });
    expect(decodeCanonical(encodeCanonical(new Map([['__proto__', '__proto__']])))).toEqual(
      new Map([['__proto__', '__proto__']]),
    );
    expect(decodeCanonical(encodeCanonical(new Set(['__proto__'])))).toEqual(new Set(['__proto__']));
  });

  test('as a plain-object key it is refused, nested too', () => {
    // {"__proto__": 1} and {"a": {"__proto__": 1}}
    const proto = '695f5f70726f746f5f5f';
    for (const hex of [`a1${proto}01`, `a16161a1${proto}01`]) {
      expect(() => decodeCanonical(fromHex(hex))).toThrow(/"__proto__" key/);
    }
  });
});

describe('typed arrays with every length-header size', () => {
  test.each([3, 12, 200, 40_000])('a Uint16Array of %i elements round-trips', (length) => {
    const value = Uint16Array.from({ length }, (_, i) => (i * 7) & 0xffff);
    const decoded = decodeCanonical(encodeCanonical(value));
    expect(decoded).toBeInstanceOf(Uint16Array);
    expect(decoded).toEqual(value);
  });

  test('a Float64Array of 80 000 bytes (a 5-byte length header) round-trips', () => {
    const value = Float64Array.from({ length: 10_000 }, (_, i) => i / 3);
    expect(decodeCanonical(encodeCanonical(value))).toEqual(value);
  });
});
