import { type InspectOptions, inspect } from 'node:util';
import { lookupCodecByPrototype } from './codec-registry.js';
import { concatChunks } from './concat-chunks.js';
import type { Codec } from './codec-registry.js';
import { SerializationError } from './serialization-error.js';

/**
 * The canonical encoding of values: deterministic CBOR (RFC 8949 §4.2.1: shortest integer heads,
 * definite lengths, map keys in bytewise order of their encoding, except that non-integers are
 * always float64 and bigints always bignums), with the closed value model of docs/keys.md. Its bytes are hashed into invocation keys, so any change to what
 * this file writes must bump KEY_FORMAT_VERSION (src/core/key-format.ts); the golden tests in
 * test/core/golden-keys.test.ts are there to catch one.
 *
 * It is a hand-written walker rather than cbor-x: cbor-x is not canonical (key order, Map/Set
 * order, -0, 5 vs 5n, Buffer vs Uint8Array, ints >= 2^32), and a sorted copy before encoding costs
 * more than emitting canonical order directly. Decoding (canonical-decode.ts) is cbor-x's.
 */

/** CBOR tags written by the encoder; the decoder accepts exactly these. */
export const CborTag = {
  positiveBignum: 2,
  negativeBignum: 3,
  /** `[name, payload]` of a registered codec (cbor.schmorp.de/generic-object). */
  namedObject: 27,
  /** RFC 9581 extended time: `{1: epoch seconds, -3: milliseconds 0..999}`. */
  extendedTime: 1001,
  /** Set: an array of elements in bytewise order of their encoding. */
  set: 258,
  /** Map: a map with keys of any type, in bytewise order of their encoding. */
  map: 259,
} as const;

/** RFC 8746 typed-array tags, little-endian variants (Uint8Array itself is a plain byte string). */
export const TYPED_ARRAY_TAGS: ReadonlyMap<Function, number> = new Map<Function, number>([
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

/** Byte arrays at least this long are returned as their own chunk (a view, never copied). */
export const ZERO_COPY_MIN_BYTES = 64 * 1024;

/**
 * Deeper nesting (containers in containers) is refused: cbor-x decodes recursively, and 1000
 * nested Maps overflow its stack on a cold start. 500 leaves a 2x margin.
 */
export const MAX_DEPTH = 500;

const MAJOR_UNSIGNED = 0x00;
const MAJOR_NEGATIVE = 0x20;
const MAJOR_BYTES = 0x40;
const MAJOR_TEXT = 0x60;
const MAJOR_ARRAY = 0x80;
const MAJOR_MAP = 0xa0;
const MAJOR_TAG = 0xc0;
const FALSE = 0xf4;
const TRUE = 0xf5;
const NULL = 0xf6;
const UNDEFINED = 0xf7;
const FLOAT64 = 0xfb;

const INITIAL_BUFFER = 8 * 1024;
// A buffer that grew past this for one big value is dropped afterwards rather than kept forever.
const KEEP_BUFFER_MAX = 1024 * 1024;

const LITTLE_ENDIAN_MACHINE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const TYPED_ARRAY_TAG_BY_PROTO = new Map<object, number>(
  [...TYPED_ARRAY_TAGS].map(([cls, tag]) => [cls.prototype as object, tag]),
);

// Path segments are recorded in parallel arrays (kind, key, index) and only formatted on error.
const SEG_INDEX = 0;
const SEG_PROP = 1;
const SEG_MAP_KEY = 2;
const SEG_MAP_VALUE = 3;
const SEG_SET_ELEMENT = 4;
const SEG_PAYLOAD = 5;

const textEncoder = new TextEncoder();
// biome-ignore lint/suspicious/noShadowRestrictedNames: a local alias of the same builtin, read once
const propertyIsEnumerable = Object.prototype.propertyIsEnumerable;
const dateGetTime = Date.prototype.getTime;
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

class CanonicalWriter {
  buf = new Uint8Array(INITIAL_BUFFER);
  view = new DataView(this.buf.buffer);
  pos = 0;
  /** Chunks cut so far; null when the caller wants one contiguous buffer. */
  chunks: Uint8Array[] = [];
  /** > 0 while writing Map/Set entries, whose bytes are reordered in place: no zero-copy chunks. */
  sorting = 0;
  busy = false;
  rootPath = 'value';
  // Containers being encoded (for cycle detection) and the path segment of each child.
  depth = 0;
  maxDepthSeen = 0;
  readonly ancestors: unknown[] = [];
  readonly segKind: number[] = [];
  readonly segKey: unknown[] = [];
  readonly segIndex: number[] = [];
  // Keys and values of the plain objects being encoded, as one stack shared by all nesting
  // levels (an object uses [base, top) while its values are encoded above it): no per-object
  // arrays to allocate and collect.
  readonly keyStack: string[] = [];
  readonly valueStack: unknown[] = [];
  top = 0;
  maxTop = 0;

  /** Object.prototype has enumerable properties (checked per call): for-in would list them. */
  prototypePolluted = false;

  run(value: unknown, rootPath: string): Uint8Array[] {
    this.rootPath = rootPath;
    this.prototypePolluted = hasEnumerableProperty(Object.prototype);
    this.chunks = [];
    this.value(value);
    if (this.pos > 0 || this.chunks.length === 0) this.chunks.push(this.buf.slice(0, this.pos));
    return this.chunks;
  }

  reset(): void {
    this.pos = 0;
    this.sorting = 0;
    this.depth = 0;
    // Do not keep the caller's objects alive through the reused writer.
    for (let i = 0; i < this.maxDepthSeen; i++) {
      this.ancestors[i] = undefined;
      this.segKey[i] = undefined;
    }
    this.maxDepthSeen = 0;
    for (let i = 0; i < this.maxTop; i++) this.valueStack[i] = undefined;
    this.top = 0;
    this.maxTop = 0;
    this.chunks = [];
    if (this.buf.length > KEEP_BUFFER_MAX) {
      this.buf = new Uint8Array(INITIAL_BUFFER);
      this.view = new DataView(this.buf.buffer);
    }
  }

  // ---- bytes ----

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** A CBOR head: major type and argument `n` (a safe non-negative integer), shortest form. */
  head(major: number, n: number): void {
    this.ensure(9);
    const buf = this.buf;
    let p = this.pos;
    if (n < 24) {
      buf[p++] = major | n;
    } else if (n < 0x100) {
      buf[p++] = major | 24;
      buf[p++] = n;
    } else if (n < 0x10000) {
      buf[p++] = major | 25;
      buf[p++] = n >>> 8;
      buf[p++] = n & 0xff;
    } else if (n < 0x100000000) {
      buf[p++] = major | 26;
      this.view.setUint32(p, n);
      p += 4;
    } else {
      buf[p++] = major | 27;
      this.view.setUint32(p, Math.floor(n / 0x100000000));
      this.view.setUint32(p + 4, n >>> 0);
      p += 8;
    }
    this.pos = p;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Raw bytes; a large array becomes its own chunk instead of being copied. */
  raw(bytes: Uint8Array): void {
    const n = bytes.byteLength;
    if (n >= ZERO_COPY_MIN_BYTES && this.sorting === 0) {
      // Nothing before this point is reordered later (sorting === 0), so the buffer can restart.
      if (this.pos > 0) this.chunks.push(this.buf.slice(0, this.pos));
      this.chunks.push(bytes);
      this.pos = 0;
      return;
    }
    this.ensure(n);
    this.buf.set(bytes, this.pos);
    this.pos += n;
  }

  // ---- values ----

  value(v: unknown): void {
    switch (typeof v) {
      case 'number':
        return this.number(v);
      case 'string':
        return this.text(v, false);
      case 'boolean':
        return this.byte(v ? TRUE : FALSE);
      case 'undefined':
        return this.byte(UNDEFINED);
      case 'object':
        if (v === null) return this.byte(NULL);
        return this.object(v);
      case 'bigint':
        return this.bigint(v);
      case 'function':
        throw this.fail('is a function');
      case 'symbol':
        throw this.fail('is a symbol');
    }
  }

  number(v: number): void {
    if (Number.isSafeInteger(v)) {
      // -0 is a safe integer and `major | -0` is 0: it encodes as 0.
      if (v >= 0) this.head(MAJOR_UNSIGNED, v);
      else this.head(MAJOR_NEGATIVE, -1 - v);
      return;
    }
    this.ensure(9);
    this.buf[this.pos] = FLOAT64;
    // biome-ignore lint/suspicious/noSelfCompare: the cheapest NaN test on the hot path
    if (v === v) {
      this.view.setFloat64(this.pos + 1, v);
    } else {
      // One NaN (0x7ff8000000000000) whatever payload the NaN carried.
      this.view.setUint32(this.pos + 1, 0x7ff80000);
      this.view.setUint32(this.pos + 5, 0);
    }
    this.pos += 9;
  }

  /** A text string; `isKey` only changes the wording of the error for a lone surrogate. */
  text(s: string, isKey: boolean): void {
    const len = s.length;
    // Fast path: short ASCII strings are copied char by char, with no TextEncoder call.
    if (len < 64) {
      this.ensure(len + 2);
      const buf = this.buf;
      const start = this.pos + (len < 24 ? 1 : 2);
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[start + i] = c;
      }
      if (i === len) {
        if (len < 24) {
          buf[this.pos] = MAJOR_TEXT | len;
        } else {
          buf[this.pos] = MAJOR_TEXT | 24;
          buf[this.pos + 1] = len;
        }
        this.pos = start + len;
        return;
      }
    }
    if (!isWellFormed(s)) {
      throw this.fail(
        isKey
          ? 'is a key with a lone surrogate (not valid Unicode)'
          : 'is a string with a lone surrogate (not valid Unicode)',
      );
    }
    // UTF-8 is at most 3 bytes per UTF-16 unit. Write after the largest possible head, then move
    // the bytes back if the real head is shorter.
    const max = len * 3;
    this.ensure(max + 9);
    const guess = headSize(max);
    const { written } = textEncoder.encodeInto(s, this.buf.subarray(this.pos + guess, this.pos + guess + max));
    const actual = headSize(written);
    if (actual !== guess) this.buf.copyWithin(this.pos + actual, this.pos + guess, this.pos + guess + written);
    this.head(MAJOR_TEXT, written);
    this.pos += written;
  }

  bigint(v: bigint): void {
    // Always a bignum tag, even when small, so that 5 and 5n never share a key.
    const negative = v < 0n;
    const magnitude = negative ? -1n - v : v;
    this.head(MAJOR_TAG, negative ? CborTag.negativeBignum : CborTag.positiveBignum);
    if (magnitude === 0n) {
      this.head(MAJOR_BYTES, 0);
      return;
    }
    let hex = magnitude.toString(16);
    if (hex.length & 1) hex = `0${hex}`;
    const n = hex.length >>> 1;
    this.head(MAJOR_BYTES, n);
    this.ensure(n);
    // Buffer's hex decoder writes in place, in linear time.
    Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, n).write(hex, 'hex');
    this.pos += n;
  }

  object(o: object): void {
    const proto = Object.getPrototypeOf(o) as object | null;
    if (proto === Object.prototype || proto === null) return this.plainObject(o as Record<string, unknown>);
    if (proto === Array.prototype && Array.isArray(o)) return this.array(o);
    if (proto === Uint8Array.prototype || proto === Buffer.prototype) {
      const bytes = o as Uint8Array;
      this.head(MAJOR_BYTES, bytes.byteLength);
      return this.raw(
        proto === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      );
    }
    if (proto === Map.prototype) return this.map(o as Map<unknown, unknown>);
    if (proto === Set.prototype) return this.set(o as Set<unknown>);
    if (proto === Date.prototype) return this.date(o as Date);
    const typedTag = TYPED_ARRAY_TAG_BY_PROTO.get(proto);
    if (typedTag !== undefined) return this.typedArray(o as ArrayBufferView, typedTag);
    const codec = lookupCodecByPrototype(proto);
    if (codec !== undefined) return this.codec(o, codec);
    throw this.fail(describeUnsupported(o, proto));
  }

  array(a: readonly unknown[]): void {
    const n = a.length;
    // Own enumerable keys other than the n indexes would be lost (`[1]` with `.meta` would share
    // the key of `[1]`): refused, before any element is read. Holes are refused in the loop below
    // at the first one: a sparse array of length 2^32-1 fails at index 0, not after 2^32 elements.
    if (n < INSPECT_MIN_LENGTH) {
      if (Object.keys(a).length !== n || Object.getOwnPropertySymbols(a).length !== 0) this.checkArrayKeys(a, n);
    } else if (inspect(a, INSPECT_KEYS_OPTIONS) !== `[ ... ${n} more items ]`) {
      this.checkArrayKeys(a, n);
    }
    this.head(MAJOR_ARRAY, n);
    if (n === 0) return;
    const d = this.enter(a);
    for (let i = 0; i < n; i++) {
      this.segKind[d] = SEG_INDEX;
      this.segIndex[d] = i;
      let v: unknown;
      try {
        v = a[i];
      } catch (cause) {
        throw this.failWithCause(this.path(d + 1), 'threw when read', cause);
      }
      if (v === undefined && !(i in a)) {
        throw this.fail('is a hole in a sparse array: holes are not supported (fill them, e.g. with undefined)');
      }
      this.value(v);
    }
    this.depth--;
  }

  /** Refuse an array with own enumerable keys other than its indexes (holes are found later). */
  checkArrayKeys(a: readonly unknown[], n: number): void {
    for (const k of Object.keys(a)) {
      if (!isArrayIndex(k, n)) {
        throw new SerializationError(
          this.path(this.depth) + propertySegment(k),
          'is a property of an array: arrays with extra properties are not supported',
        );
      }
    }
    this.refuseSymbolKeys(a);
  }

  refuseSymbolKeys(o: object): void {
    for (const sym of Object.getOwnPropertySymbols(o)) {
      if (propertyIsEnumerable.call(o, sym)) throw this.fail(`has a symbol key (${String(sym)})`);
    }
  }

  /** A SerializationError at `path` whose problem ends with the message of `cause`. */
  failWithCause(path: string, problem: string, cause: unknown): SerializationError {
    const error = new SerializationError(path, `${problem}: ${(cause as Error)?.message ?? String(cause)}`);
    Object.defineProperty(error, 'cause', { value: cause, configurable: true, writable: true });
    return error;
  }

  plainObject(o: Record<string, unknown>): void {
    if (Object.getOwnPropertySymbols(o).length !== 0) this.refuseSymbolKeys(o);
    // Own enumerable string keys with a defined value (read once each: a getter runs once).
    // for-in is several times faster than Object.keys + o[k] on large objects (V8's enum cache);
    // it also lists inherited enumerable keys, which exist only if Object.prototype was polluted.
    const keys = this.keyStack;
    const values = this.valueStack;
    const base = this.top;
    let top = base;
    let ascii = true;
    // The key whose getter (or Proxy get trap) is running, to name it if that throws.
    let reading: string | undefined;
    try {
      if (this.prototypePolluted) {
        for (const k of Object.keys(o)) {
          reading = k;
          const v = o[k];
          reading = undefined;
          if (v === undefined) continue; // dropped, as in JSON: {a: undefined} has the key of {}
          keys[top] = k;
          values[top++] = v;
          if (ascii) ascii = isAscii(k);
        }
      } else {
        for (const k in o) {
          reading = k;
          const v = o[k];
          reading = undefined;
          if (v === undefined) continue; // dropped, as in JSON: {a: undefined} has the key of {}
          keys[top] = k;
          values[top++] = v;
          if (ascii) ascii = isAscii(k);
        }
      }
    } catch (cause) {
      for (let i = base; i < top; i++) values[i] = undefined;
      if (reading === undefined) throw cause; // listing the keys threw: encodeCanonicalChunks names the object
      throw this.failWithCause(this.path(this.depth) + propertySegment(reading), 'threw when read', cause);
    }
    const n = top - base;
    if (n > 1) sortKeys(keys, values, base, top, ascii ? compareAsciiKeys : compareKeys);
    this.head(MAJOR_MAP, n);
    if (n === 0) return;
    const d = this.enter(o);
    this.top = top;
    if (top > this.maxTop) this.maxTop = top;
    for (let i = base; i < top; i++) {
      const k = keys[i]!;
      this.segKind[d] = SEG_PROP;
      this.segKey[d] = k;
      if (k === '__proto__') {
        // A decoder cannot recreate it as a plain property without risking prototype pollution.
        throw this.fail('is an own property named __proto__, which memocall does not encode');
      }
      this.text(k, true);
      this.value(values[i]);
      values[i] = undefined;
    }
    this.top = base;
    this.depth--;
  }

  map(m: Map<unknown, unknown>): void {
    const size = m.size;
    this.head(MAJOR_TAG, CborTag.map);
    this.head(MAJOR_MAP, size);
    if (size === 0) return;
    const d = this.enter(m);
    const start = this.pos;
    // Per entry: key start, key end, entry end (absolute offsets into buf; it may be reallocated).
    const offsets: number[] = new Array(size * 3);
    let i = 0;
    this.sorting++;
    for (const [k, v] of m) {
      offsets[i * 3] = this.pos;
      this.segKind[d] = SEG_MAP_KEY;
      this.segIndex[d] = i;
      this.value(k);
      offsets[i * 3 + 1] = this.pos;
      this.segKind[d] = SEG_MAP_VALUE;
      this.segKey[d] = k;
      this.value(v);
      offsets[i * 3 + 2] = this.pos;
      i++;
    }
    this.sorting--;
    this.depth--;
    if (i !== size) throw this.fail('changed size while being encoded');
    this.sortEntries(start, offsets, i, 'keys', 'map key');
  }

  set(s: Set<unknown>): void {
    const size = s.size;
    this.head(MAJOR_TAG, CborTag.set);
    this.head(MAJOR_ARRAY, size);
    if (size === 0) return;
    const d = this.enter(s);
    const start = this.pos;
    const offsets: number[] = new Array(size * 3);
    let i = 0;
    this.sorting++;
    for (const e of s) {
      offsets[i * 3] = this.pos;
      this.segKind[d] = SEG_SET_ELEMENT;
      this.segIndex[d] = i;
      this.value(e);
      offsets[i * 3 + 1] = offsets[i * 3 + 2] = this.pos;
      i++;
    }
    this.sorting--;
    this.depth--;
    if (i !== size) throw this.fail('changed size while being encoded');
    this.sortEntries(start, offsets, i, 'elements', 'set element');
  }

  /**
   * Reorder the `count` entries written since `start` by the bytes of their key (the whole element
   * for a Set), and refuse two entries whose keys encode the same (distinct objects with equal
   * contents): the encoding could not tell them apart.
   */
  sortEntries(start: number, offsets: number[], count: number, plural: string, singular: string): void {
    const buf = this.buf;
    const order: number[] = new Array(count);
    for (let i = 0; i < count; i++) order[i] = i;
    const cmp = (a: number, b: number): number =>
      compareBytes(buf, offsets[a * 3]!, offsets[a * 3 + 1]!, offsets[b * 3]!, offsets[b * 3 + 1]!);
    let sorted = true;
    for (let i = 1; i < count; i++) {
      if (cmp(i - 1, i) >= 0) {
        sorted = false;
        break;
      }
    }
    if (sorted) return;
    order.sort(cmp);
    for (let i = 1; i < count; i++) {
      if (cmp(order[i - 1]!, order[i]!) === 0) {
        const [a, b] = [order[i - 1]!, order[i]!].sort((x, y) => x - y);
        throw this.fail(`has two ${plural} with the same encoding (<${singular} ${a}> and <${singular} ${b}>)`);
      }
    }
    const copy = buf.slice(start, this.pos);
    let p = start;
    for (const e of order) {
      const from = offsets[e * 3]! - start;
      const to = offsets[e * 3 + 2]! - start;
      buf.set(copy.subarray(from, to), p);
      p += to - from;
    }
  }

  date(d: Date): void {
    const ms = dateGetTime.call(d); // not d.getTime(): an own property could shadow it
    // biome-ignore lint/suspicious/noSelfCompare: NaN test
    if (ms !== ms) throw this.fail('is an invalid Date');
    const seconds = Math.floor(ms / 1000);
    this.head(MAJOR_TAG, CborTag.extendedTime);
    this.byte(MAJOR_MAP | 2);
    this.byte(0x01); // key 1: base time, integer seconds
    this.number(seconds);
    this.byte(MAJOR_NEGATIVE | 2); // key -3: milliseconds, 0..999
    this.number(ms - seconds * 1000);
  }

  typedArray(a: ArrayBufferView, tag: number): void {
    this.head(MAJOR_TAG, tag);
    this.head(MAJOR_BYTES, a.byteLength);
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    if (LITTLE_ENDIAN_MACHINE) return this.raw(bytes);
    // Big-endian machine: the tags say little-endian, so swap each element's bytes.
    const size = (a as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
    const swapped = new Uint8Array(bytes.length);
    for (let i = 0; i < bytes.length; i += size) {
      for (let j = 0; j < size; j++) swapped[i + j] = bytes[i + size - 1 - j]!;
    }
    this.raw(swapped);
  }

  codec(o: object, codec: Codec): void {
    let payload: unknown;
    try {
      payload = codec.encode(o);
    } catch (cause) {
      const error = this.fail(
        `could not be encoded by codec "${codec.name}": ${(cause as Error)?.message ?? String(cause)}`,
      );
      Object.defineProperty(error, 'cause', { value: cause, configurable: true, writable: true });
      throw error;
    }
    this.head(MAJOR_TAG, CborTag.namedObject);
    this.byte(MAJOR_ARRAY | 2);
    this.text(codec.name, false);
    const d = this.enter(o);
    this.segKind[d] = SEG_PAYLOAD;
    this.segKey[d] = codec.name;
    this.value(payload);
    this.depth--;
  }

  // ---- containers and paths ----

  /** Push a container (refusing cycles and excessive depth); returns its segment slot. */
  enter(o: object): number {
    const d = this.depth;
    for (let i = 0; i < d; i++) {
      if (this.ancestors[i] === o) throw this.fail(`is a cycle back to ${this.path(i)}`);
    }
    if (d >= MAX_DEPTH) throw this.fail(`is nested more than ${MAX_DEPTH} levels deep`);
    this.ancestors[d] = o;
    this.depth = d + 1;
    if (this.depth > this.maxDepthSeen) this.maxDepthSeen = this.depth;
    return d;
  }

  fail(problem: string): SerializationError {
    return new SerializationError(this.path(this.depth), problem);
  }

  path(length: number): string {
    let s = this.rootPath;
    for (let i = 0; i < length; i++) {
      const key = this.segKey[i];
      const index = this.segIndex[i]!;
      switch (this.segKind[i]) {
        case SEG_INDEX:
          s += `[${index}]`;
          break;
        case SEG_PROP:
          s += propertySegment(key as string);
          break;
        case SEG_MAP_KEY:
          s += `.<map key ${index}>`;
          break;
        case SEG_MAP_VALUE:
          s += `.get(${briefKey(key) ?? `<map key ${index}>`})`;
          break;
        case SEG_SET_ELEMENT:
          s += `.<set element ${index}>`;
          break;
        case SEG_PAYLOAD:
          s += `.<${key as string} payload>`;
          break;
      }
    }
    return s;
  }
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function propertySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/**
 * Arrays at least this long are checked for extra properties by util.inspect: Object.keys lists
 * every index as a string (~50 ns each, 5 ms for 100,000 elements), while inspect with
 * maxArrayLength 0 reads only the non-index keys (Node's getOwnNonIndexProperties), ~2 µs.
 * Its output is only trusted when it is exactly that of an array without them; anything else
 * goes through the exact check.
 */
const INSPECT_MIN_LENGTH = 64;
const INSPECT_KEYS_OPTIONS: InspectOptions = {
  depth: 0,
  maxArrayLength: 0,
  maxStringLength: 0,
  customInspect: false,
  getters: false,
  showHidden: false,
  showProxy: false,
  breakLength: Number.POSITIVE_INFINITY,
};

/** Whether `key` is the canonical string of an array index below `length`. */
function isArrayIndex(key: string, length: number): boolean {
  const i = Number(key);
  return Number.isInteger(i) && i >= 0 && i < length && String(i) === key;
}

/** A Map key short enough to show in a path, or undefined to show its position instead. */
function briefKey(key: unknown): string | undefined {
  switch (typeof key) {
    case 'string':
      return key.length <= 40 ? JSON.stringify(key) : undefined;
    case 'number':
      return Object.is(key, -0) ? '0' : String(key);
    case 'bigint':
      return `${key}n`;
    case 'boolean':
    case 'undefined':
      return String(key);
    case 'object':
      return key === null ? 'null' : undefined;
    default:
      return undefined;
  }
}

function describeUnsupported(o: object, proto: object | null): string {
  if (o instanceof Promise) return 'is a Promise (await it first)';
  if (typeof (o as { then?: unknown }).then === 'function') return 'is a thenable (await it first)';
  if (o instanceof Error)
    return o.constructor === Error ? 'is an Error' : `is an Error (${className(proto) ?? 'subclass'})`;
  if (o instanceof WeakMap) return 'is a WeakMap';
  if (o instanceof WeakSet) return 'is a WeakSet';
  if (o instanceof WeakRef) return 'is a WeakRef';
  for (const boxed of [Number, String, Boolean, BigInt, Symbol] as Function[]) {
    if (proto === boxed.prototype) return `is a boxed ${boxed.name} (pass the primitive instead)`;
  }
  const name = className(proto);
  if (name === undefined) return 'is an object with a non-plain prototype and no registered codec (use registerCodec)';
  return `is an instance of class ${name} with no registered codec (use registerCodec)`;
}

/** The name of the class whose prototype is `proto`, read without running getters. */
function className(proto: object | null): string | undefined {
  if (proto === null) return undefined;
  const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value as unknown;
  if (typeof ctor !== 'function') return undefined;
  return ctor.name === '' ? '(anonymous)' : ctor.name;
}

function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

/**
 * Text keys in the bytewise order of their encoding: shorter UTF-8 first (the head carries the
 * length), then by UTF-8 bytes, which is code point order.
 */
function compareAsciiKeys(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

function compareKeys(a: string, b: string): number {
  const byLength = utf8Length(a) - utf8Length(b);
  if (byLength !== 0) return byLength;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca === cb) continue;
    // UTF-16 order differs from code point order only for surrogates vs U+E000..U+FFFF:
    // move surrogates (always paired here) above the rest of the BMP.
    if (ca >= 0xd800 && cb >= 0xd800) {
      ca = ca >= 0xe000 ? ca - 0x800 : ca + 0x2000;
      cb = cb >= 0xe000 ? cb - 0x800 : cb + 0x2000;
    }
    return ca - cb;
  }
  return a.length - b.length;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Sort keys[from..to) and their values alongside; often already sorted, and mostly small. */
function sortKeys(
  keys: string[],
  values: unknown[],
  from: number,
  to: number,
  cmp: (a: string, b: string) => number,
): void {
  let i = from + 1;
  while (i < to && cmp(keys[i - 1]!, keys[i]!) < 0) i++;
  if (i === to) return;
  if (to - from > 32) {
    const order = Array.from({ length: to - from }, (_, j) => from + j);
    order.sort((x, y) => cmp(keys[x]!, keys[y]!));
    const k2 = order.map((j) => keys[j]!);
    const v2 = order.map((j) => values[j]);
    for (let j = 0; j < k2.length; j++) {
      keys[from + j] = k2[j]!;
      values[from + j] = v2[j];
    }
    return;
  }
  for (; i < to; i++) {
    const k = keys[i]!;
    const v = values[i];
    let j = i - 1;
    while (j >= from && cmp(keys[j]!, k) > 0) {
      keys[j + 1] = keys[j]!;
      values[j + 1] = values[j];
      j--;
    }
    keys[j + 1] = k;
    values[j + 1] = v;
  }
}

function hasEnumerableProperty(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

function compareBytes(buf: Uint8Array, a0: number, a1: number, b0: number, b1: number): number {
  const n = Math.min(a1 - a0, b1 - b0);
  for (let i = 0; i < n; i++) {
    const d = buf[a0 + i]! - buf[b0 + i]!;
    if (d !== 0) return d;
  }
  return a1 - a0 - (b1 - b0);
}

// One writer reused across calls (no per-call buffer allocation); a nested call, from a codec's
// encode function, gets its own.
const shared = new CanonicalWriter();

/**
 * The canonical encoding of `value` as a list of chunks whose concatenation is the encoding.
 * Byte arrays of at least ZERO_COPY_MIN_BYTES (Uint8Array, Buffer, typed arrays on little-endian
 * machines) appear as their own chunk, a view of the caller's memory: hash or write the chunks
 * before that memory changes. Other chunks are fresh copies owned by the caller.
 * Throws SerializationError (with `path` rooted at `rootPath`) for anything unsupported, before
 * returning anything.
 */
export function encodeCanonicalChunks(value: unknown, rootPath = 'value'): Uint8Array[] {
  const writer = shared.busy ? new CanonicalWriter() : shared;
  writer.busy = true;
  try {
    return writer.run(value, rootPath);
  } catch (cause) {
    if (cause instanceof SerializationError) throw cause;
    // A Proxy trap (getPrototypeOf, ownKeys...) or an exotic object's method threw: name where.
    throw writer.failWithCause(writer.path(writer.depth), 'threw while being encoded', cause);
  } finally {
    writer.reset();
    writer.busy = false;
  }
}

/** The head of a byte string of `length` bytes (its content follows it), shortest form. */
export function byteStringHead(length: number): Uint8Array {
  const writer = new CanonicalWriter();
  writer.head(MAJOR_BYTES, length);
  return writer.buf.slice(0, writer.pos);
}

/** The canonical encoding of `value` in one buffer (see encodeCanonicalChunks). */
export function encodeCanonical(value: unknown, rootPath = 'value'): Uint8Array {
  // A lone chunk is always the writer's own copy (a zero-copy view is preceded by its head).
  return concatChunks(encodeCanonicalChunks(value, rootPath));
}
