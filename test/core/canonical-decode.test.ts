import { decode as cborXDecode, encode as cborXEncode } from 'cbor-x';
import { describe, expect, test } from 'vitest';
import { decodeCanonical } from '../../src/core/canonical-decode.js';
import { MAX_DEPTH, ZERO_COPY_MIN_BYTES, encodeCanonical } from '../../src/core/canonical-encode.js';
import { registerCodec } from '../../src/core/codec-registry.js';
import { MemocallError } from '../../src/core/memocall-error.js';

const roundTrip = (value: unknown): unknown => decodeCanonical(encodeCanonical(value));
const fromHex = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));

/** The MEMOCALL_DECODE error thrown by decoding `bytes`, or a failure if none is thrown. */
function decodeError(bytes: Uint8Array): MemocallError {
  try {
    decodeCanonical(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(MemocallError);
    expect((error as MemocallError).code).toBe('MEMOCALL_DECODE');
    return error as MemocallError;
  }
  throw new Error('expected a decode error');
}

describe('round trips', () => {
  test.each<[string, unknown]>([
    ['null', null],
    ['undefined', undefined],
    ['booleans', [true, false]],
    ['integers', [0, 1, -1, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -(2 ** 32) - 1, 2 ** 40]],
    ['safe integer limits', [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]],
    ['floats', [1.5, -0.1, 1e300, 5e-324, 2 ** 53, -(2 ** 60), Infinity, -Infinity]],
    ['NaN', NaN],
    ['bigints', [0n, 1n, -1n, 255n, 256n, -256n, 2n ** 64n, -(2n ** 200n) + 17n]],
    ['strings', ['', 'a', 'é', '😀', 'x'.repeat(1000), 'naïve ☃'.repeat(50)]],
    ['arrays', [[], [1, [2, [3, []]]], [null, undefined]]],
    ['objects', { a: 1, nested: { b: [1, 2, { c: 'd' }] }, 'non-identifier key': true, '': 0, '10': 'ten' }],
    ['Uint8Array', new Uint8Array([0, 1, 255])],
    ['empty Uint8Array', new Uint8Array(0)],
    ['large Uint8Array', new Uint8Array(ZERO_COPY_MIN_BYTES + 3).fill(9)],
    ['Uint8ClampedArray', new Uint8ClampedArray([0, 255])],
    ['Uint16Array', new Uint16Array([1, 65535])],
    ['Uint32Array', new Uint32Array([1, 2 ** 32 - 1])],
    ['BigUint64Array', new BigUint64Array([1n, 2n ** 64n - 1n])],
    ['Int8Array', new Int8Array([-128, 127])],
    ['Int16Array', new Int16Array([-32768, 1])],
    ['Int32Array', new Int32Array([-(2 ** 31), 5])],
    ['BigInt64Array', new BigInt64Array([-(2n ** 63n), 3n])],
    ['Float32Array', new Float32Array([1.5, -0, NaN, Infinity])],
    ['Float64Array', new Float64Array([Math.PI, -1e-300])],
    ['Dates', [new Date(0), new Date(1700000000123), new Date(-1), new Date(-62135596800000), new Date(8.64e15)]],
    [
      'Map',
      new Map<unknown, unknown>([
        [1, 'one'],
        ['two', 2],
        [{ k: 1 }, [1]],
        [2n, new Map([['inner', 1]])],
      ]),
    ],
    ['Map with undefined value', new Map([['a', undefined]])],
    ['Set', new Set<unknown>([3, 'x', [1], { o: 1 }, new Set([1])])],
    ['Map with a "__proto__" key', new Map([['__proto__', { polluted: true }]])],
    ['ArrayBuffer', new Uint8Array([1, 2, 3]).buffer],
    ['mixed', { when: new Date(5), tags: new Set(['a']), index: new Map([['k', 1n]]), bytes: new Uint8Array([1]) }],
  ])('%s', (_label, value) => {
    expect(roundTrip(value)).toEqual(value);
  });

  test('decoded values have the right classes', () => {
    const decoded = roundTrip({
      bytes: Buffer.from([1, 2]),
      f32: new Float32Array([1]),
      m: new Map([[1, 2]]),
      s: new Set([1]),
      d: new Date(1),
      n: 5n,
    }) as Record<string, unknown>;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(decoded.bytes)).toBe(Uint8Array.prototype); // not Buffer
    expect(decoded.f32).toBeInstanceOf(Float32Array);
    expect(decoded.m).toBeInstanceOf(Map);
    expect(decoded.s).toBeInstanceOf(Set);
    expect(decoded.d).toBeInstanceOf(Date);
    expect(typeof decoded.n).toBe('bigint');
  });

  test('5 and 5n come back as a number and a bigint', () => {
    expect(roundTrip([5, 5n])).toStrictEqual([5, 5n]);
  });

  test('-0 comes back as 0 and undefined properties are gone', () => {
    expect(Object.is(roundTrip(-0), 0)).toBe(true);
    expect(roundTrip({ a: undefined, b: 1 })).toStrictEqual({ b: 1 });
  });

  test('null-prototype objects come back as normal objects', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.x = 1;
    const decoded = roundTrip(o) as object;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(decoded).toEqual({ x: 1 });
  });

  test('DataView comes back as a DataView over its own bytes', () => {
    const bytes = new Uint8Array([9, 1, 2, 9]);
    const decoded = roundTrip(new DataView(bytes.buffer, 1, 2));
    expect(decoded).toBeInstanceOf(DataView);
    const view = decoded as DataView;
    expect(view.byteOffset).toBe(0);
    expect([...new Uint8Array(view.buffer)]).toEqual([1, 2]);
  });

  test('decoded byte strings and typed arrays own their memory (not views of the input)', () => {
    const bytes = encodeCanonical([new Uint8Array([1, 2, 3]), new Float64Array([1.5])]);
    const [u8, f64] = decodeCanonical(bytes) as [Uint8Array, Float64Array];
    bytes.fill(0);
    expect([...u8]).toEqual([1, 2, 3]);
    expect([...f64]).toEqual([1.5]);
    expect(u8.buffer.byteLength).toBe(3);
  });

  test('a Buffer input decodes the same as a Uint8Array and is not modified', () => {
    const buffer = Buffer.from(encodeCanonical({ b: new Uint8Array([1]) }));
    const decoded = decodeCanonical(buffer) as { b: Uint8Array };
    expect(Object.getPrototypeOf(decoded.b)).toBe(Uint8Array.prototype);
    expect(Object.keys(buffer)).not.toContain('dataView');
  });

  test('nesting at the encoder limit decodes, through arrays, Maps and Sets', () => {
    let arrays: unknown = 1;
    let maps: unknown = 1;
    let sets: unknown = 1;
    for (let i = 0; i < MAX_DEPTH; i++) {
      arrays = [arrays];
      maps = new Map([[i, maps]]);
      sets = new Set([sets]);
    }
    expect(roundTrip(arrays)).toEqual(arrays);
    expect(roundTrip(maps)).toEqual(maps);
    expect(roundTrip(sets)).toEqual(sets);
  });

  test('cbor-x reads the encoding as standard CBOR (interoperability)', () => {
    expect(cborXDecode(encodeCanonical({ b: [1, 'x'], a: null }))).toEqual({ a: null, b: [1, 'x'] });
  });
});

describe('registered classes', () => {
  class Celsius {
    constructor(readonly degrees: number) {}
  }
  registerCodec(
    'test-decode:Celsius',
    Celsius,
    (c) => c.degrees,
    (d: number) => new Celsius(d),
  );

  test('an instance comes back through its codec', () => {
    const decoded = roundTrip({ t: new Celsius(21.5), list: [new Celsius(-3)] }) as { t: Celsius; list: Celsius[] };
    expect(decoded.t).toBeInstanceOf(Celsius);
    expect(decoded.t.degrees).toBe(21.5);
    expect(decoded.list[0]).toBeInstanceOf(Celsius);
  });

  test('an unknown codec name is an error, not a silently different value', () => {
    // tag 27 ["test-decode:Unknown", 1]
    const name = Buffer.from('test-decode:Unknown');
    const bytes = Uint8Array.from([0xd8, 0x1b, 0x82, 0x60 + name.length, ...name, 0x01]);
    expect(decodeError(bytes).message).toBe(
      'no codec is registered under the name "test-decode:Unknown" (register it with registerCodec before decoding)',
    );
  });
});

describe('hostile input cannot run code or pollute prototypes', () => {
  test('a "__proto__" key in a plain map is refused and pollutes nothing', () => {
    // {"__proto__": {"polluted": true}}
    const bytes = fromHex('a1' + '695f5f70726f746f5f5f' + 'a1' + '68706f6c6c75746564' + 'f5');
    expect(decodeError(bytes).message).toMatch(/a "__proto__" key at byte 1/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  test('a "__proto__" key nested deeper is refused too', () => {
    const bytes = encodeCanonical([{ x: new Map([['k', { y: 1 }]]) }]);
    const patched = Buffer.from(bytes).toString('hex').replace('6179', '695f5f70726f746f5f5f').replace(/^/, '');
    // "y" (61 79) replaced with "__proto__" (69 ...): still well-formed, now hostile.
    expect(decodeError(fromHex(patched)).message).toMatch(/__proto__/);
  });

  test('tag 27 with a global constructor name does not call it', () => {
    // tag 27 ["Error", "boom"]: cbor-x's own tag 27 handler calls Error("boom"); ours only looks up
    // registered codecs, so decoding fails instead.
    const bytes = fromHex('d81b82' + '654572726f72' + '64626f6f6d');
    expect(cborXDecode(bytes)).toBeInstanceOf(Error); // cbor-x's meaning, kept outside decodeCanonical
    expect(decodeError(bytes).message).toMatch(/no codec is registered under the name "Error"/);
    // cbor-x writes a RegExp as tag 27 [name, source, flags]: not a pair, refused by the scanner.
    const regexp = Uint8Array.from(cborXEncode(/a+/g));
    expect(decodeError(regexp).message).toMatch(/tag 27 content that is not a 2-element array/);
  });

  test('cbor-x record definitions (which compile readers with new Function) are refused', () => {
    // tag 0xdfff (inline record definition): [0xe000, ["a"], 1]
    const bytes = fromHex('d9dfff' + '83' + '19e000' + '816161' + '01');
    expect(decodeError(bytes).message).toMatch(/tag 57343/);
    expect(decodeError(fromHex('d9dffe83' + '19e000' + '816161' + '01')).message).toMatch(/tag 57342/);
    expect(decodeError(fromHex('d86983' + '19e000' + '816161' + '01')).message).toMatch(/tag 105/);
  });

  test('shared references, packed tables, string dates and other tags are refused', () => {
    for (const [hexBytes, tag] of [
      ['d81c80', 28],
      ['d81d00', 29],
      ['d8338480808080', 51],
      ['c06161', 0],
      ['c101', 1],
      ['d82080', 32],
      ['d9d9f701', 55799],
      ['d8408101', 64], // uint8 typed array tag: we write byte strings instead
    ] as const) {
      expect(decodeError(fromHex(hexBytes)).message).toMatch(new RegExp(`tag ${tag}\\b`));
    }
  });

  test('a registered codec is the only code that runs while decoding', () => {
    let calls = 0;
    class Counted {}
    registerCodec(
      'test-decode:Counted',
      Counted,
      () => null,
      () => {
        calls++;
        return new Counted();
      },
    );
    const decoded = roundTrip([new Counted(), { x: new Counted() }]) as unknown[];
    expect(calls).toBe(2);
    expect(decoded[0]).toBeInstanceOf(Counted);
  });
});

describe('malformed input', () => {
  test.each<[string, string, RegExp]>([
    ['empty input', '', /truncated data at byte 0/],
    ['truncated string', '6361', /truncated data/],
    ['truncated array', '8201', /truncated data/],
    ['trailing bytes', '0101', /data after the end of the value at byte 1/],
    ['indefinite array', '9f01ff', /indefinite length/],
    ['indefinite map', 'bf6161 01ff', /indefinite length/],
    ['reserved additional info', '1c', /reserved additional information/],
    ['simple value 0', 'e0', /simple value 0/],
    ['break outside anything', 'ff', /simple value 31/],
    ['integer beyond safe range', '1b0020000000000000', /integer or length out of range/],
    ['negative integer beyond safe range', '3b001fffffffffffff', /integer or length out of range/],
    ['non-text key in a plain map', 'a10101', /a map key that is not a text string/],
    ['bignum over a non-byte-string', 'c201', /tag content that is not a byte string/],
    ['tag 27 not a pair', 'd81b8161' + '61', /tag 27 content that is not a 2-element array/],
    ['Set over a map', 'd90102a0', /tag content that is not an array/],
    ['Map over an array', 'd9010380', /tag content that is not a map/],
    ['time as a string', 'd903e96161', /tag 1001 content/],
    ['typed array of a partial element', 'd85543000000', /typed array of 3 bytes/],
    ['huge array length', '9b00000001000000ff', /integer or length out of range|truncated/],
  ])('%s', (_label, hexBytes, message) => {
    expect(decodeError(fromHex(hexBytes.replace(/ /g, ''))).message).toMatch(message);
  });

  test('a time outside the Date range is refused', () => {
    // {1: 9e12 seconds, -3: 0}: beyond ±8.64e15 ms
    expect(decodeError(fromHex('d903e9a2011b0000082f79cd90002200')).message).toMatch(/out of the Date range/);
  });

  test('a non-Uint8Array input is refused', () => {
    expect(() => decodeCanonical('a1' as unknown as Uint8Array)).toThrow(MemocallError);
  });

  test('nesting beyond the limit is refused before cbor-x recurses', () => {
    const depth = 2 * MAX_DEPTH + 20;
    const bytes = new Uint8Array(depth + 1).fill(0x81);
    bytes[depth] = 0x01;
    expect(decodeError(bytes).message).toMatch(/nesting too deep/);
  });
});
