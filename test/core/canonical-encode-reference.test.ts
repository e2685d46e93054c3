// The encoder against an independent, deliberately naive reference (recursive, sorting entries by
// their encoded bytes with Buffer.compare) on generated values that stress what a key depends on:
// head sizes at every boundary, ASCII and non-ASCII text of every length around the fast path,
// keys mixing surrogate pairs with U+E000..U+FFFF, typed arrays of every tag, nested Maps and Sets.
// Any difference in bytes is a different invocation key, i.e. a silent cache miss or collision.
import { describe, expect, test } from 'vitest';
import { decodeCanonical } from '../../src/core/canonical-decode.js';
import { encodeCanonical, encodeCanonicalChunks, TYPED_ARRAY_TAGS } from '../../src/core/canonical-encode.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function head(major: number, n: number | bigint): Buffer {
  const v = BigInt(n);
  const m = major << 5;
  if (v < 24n) return Buffer.from([m | Number(v)]);
  if (v < 0x100n) return Buffer.from([m | 24, Number(v)]);
  if (v < 0x10000n) {
    const b = Buffer.alloc(3);
    b[0] = m | 25;
    b.writeUInt16BE(Number(v), 1);
    return b;
  }
  if (v < 0x100000000n) {
    const b = Buffer.alloc(5);
    b[0] = m | 26;
    b.writeUInt32BE(Number(v), 1);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = m | 27;
  b.writeBigUInt64BE(v, 1);
  return b;
}

const TAG_OF = new Map<Function, number>([
  [Uint8ClampedArray, 68],
  [Uint16Array, 69],
  [Uint32Array, 70],
  [BigUint64Array, 71],
  [Int8Array, 72],
  [Int16Array, 77],
  [Int32Array, 78],
  [BigInt64Array, 79],
  [Float32Array, 85],
  [Float64Array, 86],
]);

function sortedEntries(entries: Buffer[][]): Buffer[][] {
  return entries.sort((a, b) => Buffer.compare(a[0]!, b[0]!));
}

/** The canonical encoding, written the obvious way (little-endian machine). */
function reference(v: unknown): Buffer {
  switch (typeof v) {
    case 'number': {
      if (Number.isSafeInteger(v)) return v >= 0 ? head(0, v) : head(1, -1 - v);
      const b = Buffer.alloc(9);
      b[0] = 0xfb;
      if (Number.isNaN(v)) b.writeUInt32BE(0x7ff80000, 1);
      else b.writeDoubleBE(v, 1);
      return b;
    }
    case 'string': {
      const utf8 = Buffer.from(v, 'utf8');
      return Buffer.concat([head(3, utf8.length), utf8]);
    }
    case 'boolean':
      return Buffer.from([v ? 0xf5 : 0xf4]);
    case 'undefined':
      return Buffer.from([0xf7]);
    case 'bigint': {
      const neg = v < 0n;
      const mag = neg ? -1n - v : v;
      let h = mag === 0n ? '' : mag.toString(16);
      if (h.length % 2) h = `0${h}`;
      const bytes = Buffer.from(h, 'hex');
      return Buffer.concat([head(6, neg ? 3 : 2), head(2, bytes.length), bytes]);
    }
    default:
      break;
  }
  if (v === null) return Buffer.from([0xf6]);
  if (v instanceof Uint8Array && Object.getPrototypeOf(v) === Uint8Array.prototype)
    return Buffer.concat([head(2, v.byteLength), Buffer.from(v)]);
  if (Array.isArray(v)) return Buffer.concat([head(4, v.length), ...v.map(reference)]);
  if (v instanceof Map) {
    const entries = sortedEntries([...v].map(([k, x]) => [reference(k), reference(x)]));
    return Buffer.concat([head(6, 259), head(5, entries.length), ...entries.flat()]);
  }
  if (v instanceof Set) {
    const elements = sortedEntries([...v].map((e) => [reference(e)]));
    return Buffer.concat([head(6, 258), head(4, elements.length), ...elements.flat()]);
  }
  if (v instanceof Date) {
    const ms = v.getTime();
    const s = Math.floor(ms / 1000);
    return Buffer.concat([
      head(6, 1001),
      Buffer.from([0xa2, 0x01]),
      reference(s),
      Buffer.from([0x22]),
      reference(ms - s * 1000),
    ]);
  }
  if (ArrayBuffer.isView(v)) {
    const tag = TAG_OF.get(v.constructor)!;
    return Buffer.concat([head(6, tag), head(2, v.byteLength), Buffer.from(v.buffer, v.byteOffset, v.byteLength)]);
  }
  const entries = sortedEntries(
    Object.entries(v as object)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => [reference(k), reference(x)]),
  );
  return Buffer.concat([head(5, entries.length), ...entries.flat()]);
}

/** A small seeded generator (reproducible failures). */
function generator(seed: number) {
  let s = seed >>> 0;
  const next = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  const int = (n: number): number => next() % n;
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  // Characters from every UTF-8 width, the surrogate pair range and the area above it.
  const chars = [
    'a',
    'Z',
    '0',
    '_',
    '\x7f',
    '\x80',
    'é',
    '\u07ff',
    '\u0800',
    '☃',
    '\ud7ff',
    '\ue000',
    '\uffef',
    '\uffff',
    '😀',
    '\u{10000}',
    '\u{10ffff}',
  ];
  const boundaries = [0, 1, 23, 24, 25, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1];
  const text = (maxLen: number): string => {
    const len = pick([0, 1, 22, 23, 24, 25, 62, 63, 64, 65, int(maxLen)]);
    if (int(3) === 0) return 'k'.repeat(len); // pure ASCII: the fast path
    let out = '';
    while (out.length < len) out += int(2) === 0 ? pick(chars) : String.fromCharCode(97 + int(26));
    return out;
  };
  const number = (): number => {
    switch (int(5)) {
      case 0:
        return pick(boundaries);
      case 1:
        return -pick(boundaries) - pick([0, 1]);
      case 2:
        return pick([0.5, -1.25, 1e300, -0, Number.NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 60)]);
      default:
        return int(1000) - 500;
    }
  };
  const value = (depth: number): unknown => {
    switch (depth > 3 ? int(6) : int(12)) {
      case 0:
        return number();
      case 1:
        return text(300);
      case 2:
        return pick([true, false, null, undefined]);
      case 3:
        return pick([0n, 1n, -1n, 255n, 256n, -257n, 2n ** 64n, -(2n ** 64n) - 1n, 12345678901234567890n]);
      case 4: {
        const bytes = new Uint8Array(pick([0, 1, 23, 24, 300]));
        for (let i = 0; i < bytes.length; i++) bytes[i] = int(256);
        return bytes;
      }
      case 5: {
        const cls = pick([...TAG_OF.keys()]) as unknown as new (n: number) => ArrayBufferView;
        const a = new cls(int(5));
        const bytes = new Uint8Array(a.buffer);
        for (let i = 0; i < bytes.length; i++) bytes[i] = int(256);
        return a;
      }
      case 6:
        return Array.from({ length: pick([0, 1, 3, 24]) }, () => value(depth + 1));
      case 7:
      case 8: {
        const o: Record<string, unknown> = {};
        for (let i = pick([0, 1, 2, 5, 40]); i > 0; i--) o[text(30)] = value(depth + 1);
        return o;
      }
      case 9: {
        const m = new Map<unknown, unknown>();
        for (let i = int(6); i > 0; i--) m.set(pick([number(), text(20), int(100)]), value(depth + 1));
        return m;
      }
      case 10: {
        const set = new Set<unknown>();
        for (let i = int(6); i > 0; i--) set.add(pick([number(), text(20), int(2) === 0]));
        return set;
      }
      default:
        return new Date(pick([0, -1, 999, 1000, -1001, 1_700_000_000_123, -62_135_596_800_000]));
    }
  };
  return { value, text };
}

describe('the encoder matches a naive reference', () => {
  test('on 200 generated values', () => {
    const g = generator(20261130);
    for (let i = 0; i < 200; i++) {
      const v = g.value(0);
      const expected = hex(reference(v));
      const actual = hex(encodeCanonical(v));
      if (actual !== expected) throw new Error(`value #${i} encodes differently:\n${actual}\n${expected}`);
    }
  });

  test('on text of every length around the fast path and the head sizes, ASCII and not, as values and as keys', () => {
    // Every length of the ASCII fast path and around it, and around the 1- and 2-byte length heads.
    const lengths = [...Array.from({ length: 71 }, (_, i) => i), 84, 85, 86, 127, 128, 253, 254, 255, 256, 257];
    for (const len of lengths) {
      for (const unit of ['a', 'é', '☃', '😀', '\ue000']) {
        const s = unit.repeat(Math.ceil(len / unit.length)).slice(0, len - (len % unit.length));
        const mixed = `${'x'.repeat(len)}${unit}`;
        for (const v of [s, mixed, { [s]: 1 }, { [mixed]: s }]) expect(hex(encodeCanonical(v))).toBe(hex(reference(v)));
      }
    }
  });

  test('plain-object keys in code point order: surrogate pairs sort after U+E000..U+FFFF', () => {
    const keys = [
      '\ue000',
      '\uffff',
      '\u{10000}',
      '\u{10ffff}',
      '😀',
      '\ud7ff',
      'a',
      'é',
      '\u0800',
      '\ue000a',
      '😀a',
      'a😀',
      'a\uffff',
    ];
    const g = generator(7);
    for (let round = 0; round < 200; round++) {
      const o: Record<string, number> = {};
      // Insertion order shuffled, sizes on both sides of the insertion-sort / Array.sort cut-off.
      const count = [2, 3, 13, 33, 40][round % 5]!;
      for (let i = 0; i < count; i++) o[`${keys[(i * 7 + round) % keys.length]}${g.text(4)}${i}`] = i;
      expect(hex(encodeCanonical(o))).toBe(hex(reference(o)));
    }
    // Two keys of the same UTF-8 length whose order differs between UTF-16 and code points.
    expect(Object.keys(decodeCanonical(encodeCanonical({ '\u{10000}': 1, '\uffff\u0080': 2 })) as object)).toEqual([
      '\u{10000}',
      '\uffff\u0080',
    ]);
    expect(hex(encodeCanonical({ '\u{10000}': 1, '\uffffa': 2 }))).toBe(
      hex(reference({ '\u{10000}': 1, '\uffffa': 2 })),
    );
  });

  test('the typed-array tag table is RFC 8746 little-endian, one tag per class', () => {
    expect(new Map(TYPED_ARRAY_TAGS)).toEqual(TAG_OF);
    for (const [cls, tag] of TAG_OF) {
      const a = new (cls as unknown as new (n: number) => ArrayBufferView)(3);
      expect(hex(encodeCanonical(a)).startsWith(hex(head(6, tag))), cls.name).toBe(true);
    }
  });
});

describe('chunks', () => {
  test('a large byte string alone is exactly its head and a view of it: no empty chunk', () => {
    const big = new Uint8Array(70_000);
    const chunks = encodeCanonicalChunks(big);
    expect(chunks).toHaveLength(2);
    expect(hex(chunks[0]!)).toBe(hex(head(2, 70_000)));
    expect(chunks[1]!.buffer).toBe(big.buffer);
    const two = encodeCanonicalChunks([big, big]);
    expect(two.map((c) => c.byteLength)).toEqual([1 + 5, 70_000, 5, 70_000]);
    expect(two.every((c) => c.byteLength > 0)).toBe(true);
  });

  test('values larger than the writer buffer are encoded whole, and the next call starts clean', () => {
    const long = 'é'.repeat(20_000); // 40 000 bytes of UTF-8, well past the first buffer
    const o = { a: long, b: [long, 'x'.repeat(63)], c: new Map([[long, long]]) };
    expect(hex(encodeCanonical(o))).toBe(hex(reference(o)));
    expect(hex(encodeCanonical('short'))).toBe(hex(reference('short')));
    const many = Array.from({ length: 1500 }, (_, i) => ({ [`k${i}`]: 'v'.repeat(i % 70) }));
    expect(hex(encodeCanonical(many))).toBe(hex(reference(many)));
  });
});
