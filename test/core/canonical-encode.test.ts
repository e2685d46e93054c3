import { Encoder } from 'cbor-x';
import { describe, expect, test } from 'vitest';
import {
  MAX_DEPTH,
  ZERO_COPY_MIN_BYTES,
  encodeCanonical,
  encodeCanonicalChunks,
} from '../../src/core/canonical-encode.js';
import { registerCodec } from '../../src/core/codec-registry.js';
import { SerializationError } from '../../src/core/serialization-error.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const enc = (value: unknown): string => hex(encodeCanonical(value));

function concat(chunks: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(chunks));
}

/** The SerializationError thrown by encoding `value`, or a failure if none is thrown. */
function serializationError(value: unknown, rootPath = 'args'): SerializationError {
  try {
    encodeCanonical(value, rootPath);
  } catch (error) {
    expect(error).toBeInstanceOf(SerializationError);
    return error as SerializationError;
  }
  throw new Error('expected a SerializationError');
}

describe('RFC 8949 Appendix A vectors (integers, strings, arrays, maps, bignums, simple values)', () => {
  test.each([
    [0, '00'],
    [1, '01'],
    [10, '0a'],
    [23, '17'],
    [24, '1818'],
    [25, '1819'],
    [100, '1864'],
    [1000, '1903e8'],
    [1000000, '1a000f4240'],
    [1000000000000, '1b000000e8d4a51000'],
    [-1, '20'],
    [-10, '29'],
    [-100, '3863'],
    [-1000, '3903e7'],
    [1.1, 'fb3ff199999999999a'],
    [-4.1, 'fbc010666666666666'],
    [1.0e300, 'fb7e37e43c8800759c'],
    ['', '60'],
    ['a', '6161'],
    ['IETF', '6449455446'],
    ['"\\', '62225c'],
    ['\u00fc', '62c3bc'],
    ['\u6c34', '63e6b0b4'],
    ['\ud800\udd51', '64f0908591'],
    [false, 'f4'],
    [true, 'f5'],
    [null, 'f6'],
    [undefined, 'f7'],
    [18446744073709551616n, 'c249010000000000000000'],
    [-18446744073709551617n, 'c349010000000000000000'],
    [[], '80'],
    [[1, 2, 3], '83010203'],
    [[1, [2, 3], [4, 5]], '8301820203820405'],
    [{}, 'a0'],
    [{ a: 1, b: [2, 3] }, 'a26161016162820203'],
    [['a', { b: 'c' }], '826161a161626163'],
    [new Uint8Array([1, 2, 3, 4]), '4401020304'],
  ])('%s', (value, expected) => {
    expect(enc(value)).toBe(expected);
  });

  test('a 25-element array uses a one-byte length', () => {
    const array = Array.from({ length: 25 }, (_, i) => i + 1);
    expect(enc(array).slice(0, 4)).toBe('9819');
  });
});

describe('numbers', () => {
  test('-0 encodes as 0', () => {
    expect(enc(-0)).toBe('00');
    expect(enc({ x: -0 })).toBe(enc({ x: 0 }));
  });

  test('every NaN encodes as the same canonical NaN', () => {
    const payloadNaN = new Float64Array(new Uint32Array([1, 0x7ff00000]).buffer)[0]!;
    expect(Number.isNaN(payloadNaN)).toBe(true);
    expect(enc(payloadNaN)).toBe('fb7ff8000000000000');
    expect(enc(-NaN)).toBe('fb7ff8000000000000');
  });

  test('safe integers are CBOR integers, other numbers float64 (never shortened)', () => {
    expect(enc(Number.MAX_SAFE_INTEGER)).toBe('1b001fffffffffffff');
    expect(enc(Number.MIN_SAFE_INTEGER)).toBe('3b001ffffffffffffe');
    expect(enc(2 ** 53)).toBe('fb4340000000000000');
    expect(enc(0.5)).toBe('fb3fe0000000000000');
    expect(enc(-Infinity)).toBe('fbfff0000000000000');
  });

  test('5 and 5n have different encodings; a bigint is always a bignum', () => {
    expect(enc(5)).toBe('05');
    expect(enc(5n)).toBe('c24105');
    expect(enc(0n)).toBe('c240');
    expect(enc(-1n)).toBe('c340');
    expect(enc(255n)).toBe('c241ff');
    expect(enc(256n)).toBe('c2420100');
    expect(enc(-257n)).toBe('c3420100');
  });
});

describe('strings', () => {
  test('UTF-8, with the length in bytes', () => {
    expect(enc('é'.repeat(12))).toBe(`7818${'c3a9'.repeat(12)}`);
    expect(enc('x'.repeat(24))).toBe(`7818${'78'.repeat(24)}`);
    expect(enc('x'.repeat(300))).toBe(`79012c${'78'.repeat(300)}`);
    expect(enc('😀'.repeat(100))).toBe(`790190${'f09f9880'.repeat(100)}`);
  });

  test('a string mixing ASCII and non-ASCII after 64 chars', () => {
    const s = `${'a'.repeat(70)}☃`;
    expect(encodeCanonical(s)).toEqual(Uint8Array.from([0x78, 73, ...Buffer.from(s)]));
  });

  test('a lone surrogate is refused, in a value or a key', () => {
    const inValue = serializationError(['ok', 'a\ud800b']);
    expect(inValue.path).toBe('args[1]');
    expect(inValue.message).toBe('args[1] is a string with a lone surrogate (not valid Unicode)');
    const inKey = serializationError([{ '\udc00': 1 }]);
    expect(inKey.message).toBe('args[0]["\\udc00"] is a key with a lone surrogate (not valid Unicode)');
  });
});

describe('objects', () => {
  test('key insertion order does not matter', () => {
    const a = { name: 'x', id: 1, nested: { z: 1, a: [1, 2], m: 'm' } };
    const b = { nested: { m: 'm', a: [1, 2], z: 1 }, id: 1, name: 'x' };
    expect(enc(a)).toBe(enc(b));
  });

  test('keys are ordered by encoded bytes: shorter UTF-8 first, then bytewise', () => {
    // "b" (1 byte) < "aa" < "ab" < "é" (c3 a9) < "😀" (4 bytes)
    const encoded = enc({ '😀': 5, é: 4, ab: 3, aa: 2, b: 1 });
    expect(encoded).toBe('a5' + '616201' + '62616102' + '62616203' + '62c3a904' + '64f09f988005');
  });

  test('code point order, not UTF-16 order, for keys of equal length', () => {
    // U+FF61 (3 bytes ef bd a1) vs U+10000 (4 bytes): length decides. Same-length case:
    // "\uffff" (ef bf bf) vs "\ud800\udc00" (f0 90 80 80) differ in length; use two 4-byte chars:
    // "\ud83d\ude00" (f0 9f 98 80) vs "\ud800\udc00" (f0 90 80 80) -> U+10000 first.
    expect(enc({ '\ud83d\ude00': 1, '\ud800\udc00': 2 })).toBe('a264f090808002' + '64f09f988001');
    // Same UTF-8 length 3: "\uffe0" (ef bf a0) and "\u0800" (e0 a0 80): U+0800 first.
    expect(enc({ '\uffe0': 1, '\u0800': 2 })).toBe('a263e0a0800263efbfa001');
  });

  test('numeric-like keys sort as strings', () => {
    expect(enc({ 10: 'c', 2: 'b', 1: 'a' })).toBe('a3' + '61316161' + '61326162' + '6231306163');
  });

  test('undefined properties are dropped: {a: undefined} keys like {}', () => {
    expect(enc({ a: undefined })).toBe(enc({}));
    expect(enc({ a: 1, b: undefined })).toBe(enc({ a: 1 }));
  });

  test('null-prototype objects encode like plain objects', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.b = 2;
    o.a = 1;
    expect(enc(o)).toBe(enc({ a: 1, b: 2 }));
  });

  test('non-enumerable properties are ignored; getters run once', () => {
    let reads = 0;
    const o = { a: 1 };
    Object.defineProperty(o, 'hidden', { value: () => 1, enumerable: false });
    Object.defineProperty(o, 'g', { get: () => ++reads, enumerable: true });
    expect(enc(o)).toBe(enc({ a: 1, g: 1 }));
    expect(reads).toBe(1);
  });

  test('large objects (sorted by the non-insertion path) match a reference', () => {
    const keys = Array.from({ length: 100 }, (_, i) => `k${(i * 37) % 100}`);
    const o: Record<string, number> = {};
    for (const k of keys) o[k] = k.length;
    const sorted = [...keys].sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
    const expected = new Encoder({
      useRecords: false,
      variableMapSize: true,
      useTag259ForMaps: false,
    } as object).encode(new Map(sorted.map((k) => [k, o[k]])));
    expect(enc(o)).toBe(hex(expected));
  });

  test('inherited enumerable properties from a polluted Object.prototype are not encoded', () => {
    const before = enc({ a: 1 });
    (Object.prototype as Record<string, unknown>).polluted = 1;
    try {
      expect(enc({ a: 1 })).toBe(before);
    } finally {
      delete (Object.prototype as Record<string, unknown>).polluted;
    }
  });

  test('matches cbor-x on random JSON-like data once keys are sorted the canonical way', () => {
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const alphabet = ['a', 'b', 'zz', 'é', '☃', '😀', 'key', '_', '0'];
    const make = (depth: number): unknown => {
      switch (depth > 3 ? random(3) : random(6)) {
        case 0:
          return random(2 ** 31) - 2 ** 30; // cbor-x is canonical for 32-bit integers
        case 1:
          return Array.from({ length: random(4) }, () => alphabet[random(alphabet.length)]).join('');
        case 2:
          return [true, false, null][random(3)];
        case 3:
          return Array.from({ length: random(4) }, () => make(depth + 1));
        default: {
          const o: Record<string, unknown> = {};
          for (let i = random(5); i > 0; i--) o[alphabet[random(alphabet.length)]! + random(20)] = make(depth + 1);
          return o;
        }
      }
    };
    const reference = new Encoder({ useRecords: false, variableMapSize: true, useTag259ForMaps: false } as object);
    const sortDeep = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(sortDeep);
      if (v !== null && typeof v === 'object') {
        const entries = Object.entries(v).map(([k, x]) => [Buffer.from(k), k, sortDeep(x)] as const);
        entries.sort(([a], [b]) => a.length - b.length || Buffer.compare(a, b));
        return new Map(entries.map(([, k, x]) => [k, x]));
      }
      return v;
    };
    for (let i = 0; i < 300; i++) {
      const value = make(0);
      expect(enc(value)).toBe(hex(reference.encode(sortDeep(value))));
    }
  });
});

describe('byte arrays and typed arrays', () => {
  test('a Buffer and a Uint8Array with the same bytes encode the same', () => {
    expect(enc(Buffer.from([1, 2, 3]))).toBe(enc(new Uint8Array([1, 2, 3])));
    expect(enc({ b: Buffer.from('hi') })).toBe(enc({ b: new TextEncoder().encode('hi') }));
  });

  test('a Uint8Array view encodes only its own bytes', () => {
    const backing = new Uint8Array([9, 1, 2, 9]);
    expect(enc(backing.subarray(1, 3))).toBe('420102');
  });

  test('typed arrays use RFC 8746 little-endian tags', () => {
    expect(enc(new Uint8ClampedArray([1, 255]))).toBe('d844' + '4201ff');
    expect(enc(new Uint16Array([1]))).toBe('d845' + '420100');
    expect(enc(new Uint32Array([1]))).toBe('d846' + '4401000000');
    expect(enc(new BigUint64Array([1n]))).toBe('d847' + '480100000000000000');
    expect(enc(new Int8Array([-1]))).toBe('d848' + '41ff');
    expect(enc(new Int16Array([-2]))).toBe('d84d' + '42feff');
    expect(enc(new Int32Array([-2]))).toBe('d84e' + '44feffffff');
    expect(enc(new BigInt64Array([-2n]))).toBe('d84f' + '48feffffffffffffff');
    expect(enc(new Float32Array([1]))).toBe('d855' + '440000803f');
    expect(enc(new Float64Array([1]))).toBe('d856' + '48000000000000f03f');
  });

  test('typed arrays of different classes with the same bytes differ', () => {
    expect(enc(new Int32Array([1]))).not.toBe(enc(new Uint32Array([1])));
    expect(enc(new Float32Array([0]))).not.toBe(enc(new Uint8Array(4)));
  });

  test('ArrayBuffer and DataView are built-in named objects', () => {
    const bytes = new Uint8Array([1, 2, 3, 4]);
    const name = (s: string): string => hex(Buffer.from([0x60 + s.length, ...Buffer.from(s)]));
    expect(enc(bytes.buffer)).toBe(`d81b82${name('memocall:ArrayBuffer')}4401020304`);
    expect(enc(new DataView(bytes.buffer, 1, 2))).toBe(`d81b82${name('memocall:DataView')}420203`);
  });
});

describe('chunks', () => {
  test('a large byte array is its own chunk, not copied', () => {
    const big = new Uint8Array(ZERO_COPY_MIN_BYTES);
    big[0] = 7;
    const chunks = encodeCanonicalChunks(['before', big, 'after']);
    expect(chunks).toHaveLength(3);
    expect(chunks[1]).toBe(big);
    expect(concat(chunks)).toEqual(encodeCanonical(['before', big, 'after']));
    expect(hex(chunks[0]!)).toBe('83' + '666265666f7265' + '5a00010000');
    expect(hex(chunks[2]!)).toBe('656166746572');
  });

  test('a Buffer or a Float32Array chunk is a view of the same memory', () => {
    const buffer = Buffer.alloc(ZERO_COPY_MIN_BYTES, 1);
    const floats = new Float32Array(ZERO_COPY_MIN_BYTES / 4).fill(0.5);
    const chunks = encodeCanonicalChunks({ buffer, floats });
    const views = chunks.filter((c) => c.byteLength === ZERO_COPY_MIN_BYTES);
    expect(views).toHaveLength(2);
    expect(views[0]!.buffer).toBe(buffer.buffer);
    expect(views[0]!.byteOffset).toBe(buffer.byteOffset);
    expect(Object.getPrototypeOf(views[0])).toBe(Uint8Array.prototype);
    expect(views[1]!.buffer).toBe(floats.buffer);
  });

  test('small byte arrays and byte arrays inside a Map or Set are copied (entries are reordered)', () => {
    const small = new Uint8Array(ZERO_COPY_MIN_BYTES - 1);
    expect(encodeCanonicalChunks([small])).toHaveLength(1);
    const big = new Uint8Array(ZERO_COPY_MIN_BYTES);
    const chunks = encodeCanonicalChunks(new Map([['k', big]]));
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.buffer).not.toBe(big.buffer);
  });

  test('chunks returned by one call are not overwritten by the next', () => {
    const first = encodeCanonicalChunks({ a: 'first' });
    const copy = hex(first[0]!);
    encodeCanonicalChunks({ b: 'second, longer value' });
    expect(hex(first[0]!)).toBe(copy);
  });
});

describe('Map and Set', () => {
  test('Map entries are sorted by encoded key (RFC 8949 §4.2.1 example order)', () => {
    const keys: unknown[] = [false, [-1], [100], 'aa', 'z', -1, 100, 10];
    const m = new Map(keys.map((k, i) => [k, i]));
    // 10, 100, -1, "z", "aa", [100], [-1], false
    expect(enc(m)).toBe(
      'd90103a8' + '0a07' + '186406' + '2005' + '617a04' + '62616103' + '81186402' + '812001' + 'f400',
    );
  });

  test('Map and Set encodings do not depend on insertion order', () => {
    expect(
      enc(
        new Map<unknown, unknown>([
          ['b', 1],
          [{ x: 1 }, 2],
          [3n, 3],
        ]),
      ),
    ).toBe(
      enc(
        new Map<unknown, unknown>([
          [3n, 3],
          [{ x: 1 }, 2],
          ['b', 1],
        ]),
      ),
    );
    expect(enc(new Set([3, 'x', [1], 1]))).toBe(enc(new Set([[1], 1, 'x', 3])));
  });

  test('a Map is not an object, and a Set is not an array', () => {
    expect(enc(new Map([['a', 1]]))).not.toBe(enc({ a: 1 }));
    expect(enc(new Set([1]))).not.toBe(enc([1]));
    expect(enc(new Map([[1, 'a']]))).toBe('d90103a10161' + '61');
  });

  test('undefined Map values are kept (a Map entry is not a property)', () => {
    expect(enc(new Map([['a', undefined]]))).toBe('d90103a16161f7');
  });

  test('two distinct keys or elements that encode the same are refused', () => {
    const m = serializationError([
      1,
      new Map([
        [{ a: 1 }, 'x'],
        [{ a: 1 }, 'y'],
      ]),
    ]);
    expect(m.path).toBe('args[1]');
    expect(m.message).toBe('args[1] has two keys with the same encoding (<map key 0> and <map key 1>)');
    const s = serializationError([new Set(['x', [1, 2], 'y', [1, 2]])]);
    expect(s.message).toBe('args[0] has two elements with the same encoding (<set element 1> and <set element 3>)');
  });
});

describe('Date', () => {
  test('a Date is RFC 9581 tag 1001 {1: seconds, -3: milliseconds}', () => {
    expect(enc(new Date(0))).toBe('d903e9a2010022' + '00');
    expect(enc(new Date(1500))).toBe('d903e9a2010122' + '1901f4');
    expect(enc(new Date(-1500))).toBe('d903e9a2012122' + '1901f4'); // -2 s + 500 ms
  });

  test('an invalid Date is refused', () => {
    const e = serializationError([{ when: new Date('nope') }]);
    expect(e.message).toBe('args[0].when is an invalid Date');
  });
});

describe('refused values name their path', () => {
  class Model {
    fit(): void {}
  }

  test.each<[string, () => unknown, string, string]>([
    ['a function', () => [1, { model: { fit: () => 1 } }], 'args[1].model.fit', 'is a function'],
    ['a method in a non-identifier key', () => [{ 'a-b': function named() {} }], 'args[0]["a-b"]', 'is a function'],
    ['a symbol', () => [Symbol('s')], 'args[0]', 'is a symbol'],
    ['a Promise', () => [[Promise.resolve(1)]], 'args[0][0]', 'is a Promise (await it first)'],
    [
      'a thenable',
      () => [
        new (class Lazy {
          // biome-ignore lint/suspicious/noThenProperty: a thenable is the value under test
          then(): void {}
        })(),
      ],
      'args[0]',
      'is a thenable (await it first)',
    ],
    ['a WeakMap', () => [{ cache: new WeakMap() }], 'args[0].cache', 'is a WeakMap'],
    ['a WeakSet', () => [new WeakSet()], 'args[0]', 'is a WeakSet'],
    ['an Error', () => [new Error('x')], 'args[0]', 'is an Error'],
    ['an Error subclass', () => [new TypeError('x')], 'args[0]', 'is an Error (TypeError)'],
    ['a boxed number', () => [new Number(1)], 'args[0]', 'is a boxed Number (pass the primitive instead)'],
    ['a boxed string', () => [Object('s')], 'args[0]', 'is a boxed String (pass the primitive instead)'],
    [
      'a class instance',
      () => [0, { model: new Model() }],
      'args[1].model',
      'is an instance of class Model with no registered codec (use registerCodec)',
    ],
    [
      'a Map subclass',
      () => [new (class Registry extends Map {})()],
      'args[0]',
      'is an instance of class Registry with no registered codec (use registerCodec)',
    ],
    [
      'an object with a custom prototype',
      () => [Object.create({ inherited: 1 })],
      'args[0]',
      'is an object with a non-plain prototype and no registered codec (use registerCodec)',
    ],
    ['a function as a Map value', () => [new Map([['k', () => 1]])], 'args[0].get("k")', 'is a function'],
    [
      'a function as a Map value with a number key',
      () => [new Map([[-0, () => 1]])],
      'args[0].get(0)',
      'is a function',
    ],
    [
      'a function as a Map value with an object key',
      () => [
        new Map<unknown, unknown>([
          [{}, 1],
          [[], () => 1],
        ]),
      ],
      'args[0].get(<map key 1>)',
      'is a function',
    ],
    [
      'a function as a Map key',
      () => [
        new Map<unknown, unknown>([
          ['a', 1],
          [() => 1, 2],
        ]),
      ],
      'args[0].<map key 1>',
      'is a function',
    ],
    ['a function in a Set', () => [new Set([1, 2, () => 1])], 'args[0].<set element 2>', 'is a function'],
    ['a symbol key', () => [{ a: 1, [Symbol('tag')]: 2 }], 'args[0]', 'has a symbol key (Symbol(tag))'],
    [
      'an own __proto__ key',
      () => [JSON.parse('{"__proto__": 1}')],
      'args[0].__proto__',
      'is an own property named __proto__, which memocall does not encode',
    ],
  ])('%s', (_what, make, path, problem) => {
    const e = serializationError(make());
    expect(e.path).toBe(path);
    expect(e.message).toBe(`${path} ${problem}`);
    expect(e.code).toBe('MEMOCALL_SERIALIZATION');
  });

  test('cycles name the path they return to', () => {
    const a: unknown[] = [1];
    a.push({ back: a });
    const e = serializationError([0, a]);
    expect(e.path).toBe('args[1][1].back');
    expect(e.message).toBe('args[1][1].back is a cycle back to args[1]');
    const self: Record<string, unknown> = {};
    self.self = self;
    expect(serializationError(self, 'value').message).toBe('value.self is a cycle back to value');
    const m = new Map<string, unknown>();
    m.set('me', new Set([m]));
    expect(serializationError([m]).message).toBe('args[0].get("me").<set element 0> is a cycle back to args[0]');
  });

  test('a shared object that is not a cycle is encoded twice', () => {
    const shared = { x: 1 };
    expect(enc([shared, shared])).toBe(enc([{ x: 1 }, { x: 1 }]));
  });

  test('the error comes before anything is returned, and the writer recovers', () => {
    expect(() => encodeCanonicalChunks([1, 2, () => 3])).toThrow(SerializationError);
    expect(enc([1, 2])).toBe('820102');
  });

  test('the default root path is "value"', () => {
    expect(() => encodeCanonical(() => 1)).toThrow(new SerializationError('value', 'is a function'));
  });

  test('nesting deeper than MAX_DEPTH is refused, MAX_DEPTH itself is fine', () => {
    let ok: unknown = 0;
    for (let i = 0; i < MAX_DEPTH; i++) ok = [ok];
    expect(encodeCanonical(ok).length).toBe(MAX_DEPTH + 1);
    const e = serializationError([ok]);
    expect(e.message).toBe(`args${'[0]'.repeat(MAX_DEPTH)} is nested more than ${MAX_DEPTH} levels deep`);
  });
});

describe('registered classes', () => {
  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }
  registerCodec(
    'test-encode:Point',
    Point,
    (p) => [p.x, p.y],
    ([x, y]: [number, number]) => new Point(x, y),
  );

  class Holder {
    constructor(readonly inner: unknown) {}
  }
  registerCodec(
    'test-encode:Holder',
    Holder,
    (h) => ({ inner: h.inner }),
    (p: { inner: unknown }) => new Holder(p.inner),
  );

  test('an instance is tag 27 [name, payload]', () => {
    const name = Buffer.from('test-encode:Point');
    expect(enc(new Point(1, 2))).toBe(`d81b82${hex(Buffer.from([0x60 + name.length]))}${hex(name)}820102`);
  });

  test('errors inside a payload continue the path', () => {
    const e = serializationError([new Holder({ fn: () => 1 })]);
    expect(e.message).toBe('args[0].<test-encode:Holder payload>.inner.fn is a function');
  });

  test('a payload that contains the instance itself is a cycle', () => {
    const h = new Holder(null);
    (h as { inner: unknown }).inner = h;
    expect(serializationError([h]).message).toBe(
      'args[0].<test-encode:Holder payload>.inner is a cycle back to args[0]',
    );
  });

  test('an encode function that throws becomes a SerializationError with the cause', () => {
    class Broken {}
    const cause = new Error('boom');
    registerCodec(
      'test-encode:Broken',
      Broken,
      () => {
        throw cause;
      },
      () => new Broken(),
    );
    const e = serializationError([[new Broken()]]);
    expect(e.message).toBe('args[0][0] could not be encoded by codec "test-encode:Broken": boom');
    expect(e.cause).toBe(cause);
  });

  test('a codec may encode other values canonically inside its encode function', () => {
    class Nested {}
    registerCodec(
      'test-encode:Nested',
      Nested,
      () => encodeCanonical({ b: 1, a: 2 }),
      () => new Nested(),
    );
    expect(enc(new Nested())).toContain(enc({ a: 2, b: 1 }));
  });
});
