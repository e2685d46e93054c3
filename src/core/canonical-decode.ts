import { createRequire } from 'node:module';
import type { Options } from 'cbor-x';
import { lookupCodecByName } from './codec-registry.js';
import { CborTag, MAX_DEPTH, TYPED_ARRAY_TAGS } from './canonical-encode.js';
import { MemocallError } from './memocall-error.js';

// cbor-x's CommonJS bundle is one file: loading it takes half the time of its ESM entry's module
// graph, and `import('memocall')` must stay fast.
const { Decoder, Tag, addExtension } = loadCborX();

/**
 * cbor-x without its native string extractor (cbor-extract): loading that addon costs ~15 ms in
 * every process (remote children included) and only speeds up decoding of large string-heavy
 * values; memocall decodes small records. cbor-x reads the switch once, at load.
 */
function loadCborX(): typeof import('cbor-x') {
  const env = process.env;
  const previous = env.CBOR_NATIVE_ACCELERATION_DISABLED;
  env.CBOR_NATIVE_ACCELERATION_DISABLED = 'true';
  try {
    return createRequire(import.meta.url)('cbor-x') as typeof import('cbor-x');
  } finally {
    if (previous === undefined) delete env.CBOR_NATIVE_ACCELERATION_DISABLED;
    else env.CBOR_NATIVE_ACCELERATION_DISABLED = previous;
  }
}

/**
 * Decoding of the canonical encoding (canonical-encode.ts) back to values, by cbor-x.
 *
 * Loading a stored result must never run code other than the registered codecs' `decode`. cbor-x
 * on its own does not guarantee that: its record extension compiles readers with `new Function`,
 * its tag 27 calls a global constructor by name, its tags 28/29 build shared references. So the
 * bytes are first checked by a small scanner that accepts only what the encoder writes (the tags
 * below, definite lengths, text keys in untagged maps, no `__proto__` key); only then does cbor-x
 * decode them.
 */

const ELEMENT_SIZE_BY_TAG = new Map<number, number>(
  [...TYPED_ARRAY_TAGS].map(([cls, tag]) => [tag, (cls as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT]),
);

// Each nesting level of the encoder adds at most two item levels (a tag and its container).
const MAX_ITEM_DEPTH = 2 * MAX_DEPTH + 8;

function invalid(problem: string, offset: number): MemocallError {
  return new MemocallError('MEMOCALL_DECODE', `not memocall canonical CBOR: ${problem} at byte ${offset}`);
}

// The scanner's state lives in module variables (as in cbor-x): faster than closures or fields.
let src: Uint8Array = new Uint8Array(0);
let srcView: DataView = new DataView(src.buffer);
let end = 0;
let p = 0;

/** Check that `b` is exactly one item in the subset the encoder writes; throws otherwise. */
function scan(b: Uint8Array): void {
  src = b;
  srcView = new DataView(b.buffer, b.byteOffset, b.byteLength);
  end = b.length;
  p = 0;
  try {
    scanItem(0, false);
    if (p !== end) throw invalid('data after the end of the value', p);
  } finally {
    src = new Uint8Array(0); // do not keep the caller's bytes alive
    srcView = new DataView(src.buffer);
  }
}

function need(n: number, at: number): void {
  if (n > end - p) throw invalid('truncated data', at);
}

/** The argument of a head whose additional info is `ai` (bytes from p on), as a safe integer. */
function scanArgument(ai: number, major: number, at: number): number {
  if (ai < 24) return ai;
  switch (ai) {
    case 24:
      need(1, at);
      return src[p++]!;
    case 25:
      need(2, at);
      p += 2;
      return srcView.getUint16(p - 2);
    case 26:
      need(4, at);
      p += 4;
      return srcView.getUint32(p - 4);
    case 27: {
      need(8, at);
      const hi = srcView.getUint32(p);
      const lo = srcView.getUint32(p + 4);
      p += 8;
      // Integers are safe integers (larger ones are floats or bignums); lengths fit in memory.
      if (major <= 1 ? hi > 0x1fffff || (major === 1 && hi === 0x1fffff && lo === 0xffffffff) : hi !== 0) {
        throw invalid('integer or length out of range', at);
      }
      return hi * 0x100000000 + lo;
    }
    case 31:
      throw invalid('indefinite length', at);
    default:
      throw invalid('reserved additional information', at);
  }
}

/** Scan one item; `objectKey` is true for the keys of an untagged map (decoded as an object). */
function scanItem(depth: number, objectKey: boolean): void {
  const at = p;
  if (depth > MAX_ITEM_DEPTH) throw invalid('nesting too deep', at);
  if (p >= end) throw invalid('truncated data', at);
  const initial = src[p++]!;
  const major = initial >> 5;
  const ai = initial & 0x1f;
  if (major === 7) {
    if (ai >= 20 && ai <= 23) return; // false, true, null, undefined
    if (ai === 25 || ai === 26 || ai === 27) {
      const size = ai === 25 ? 2 : ai === 26 ? 4 : 8;
      need(size, at);
      p += size;
      return;
    }
    throw invalid(`simple value ${ai}`, at);
  }
  const n = scanArgument(ai, major, at);
  switch (major) {
    case 0:
    case 1:
      return;
    case 2:
      need(n, at);
      p += n;
      return;
    case 3:
      need(n, at);
      if (objectKey && n === 9 && isProtoKey(src, p)) throw invalid('a "__proto__" key', at);
      p += n;
      return;
    case 4:
      need(n, at); // every item takes at least one byte
      for (let i = 0; i < n; i++) scanItem(depth + 1, false);
      return;
    case 5:
      need(2 * n, at);
      for (let i = 0; i < n; i++) {
        if (p >= end || src[p]! >> 5 !== 3) throw invalid('a map key that is not a text string', p);
        scanItem(depth + 1, true);
        scanItem(depth + 1, false);
      }
      return;
    default:
      return scanTagged(n, depth, at);
  }
}

function expectMajor(major: number, what: string): void {
  if (p >= end || src[p]! >> 5 !== major) throw invalid(`tag content that is not ${what}`, p);
}

function scanTagged(tag: number, depth: number, at: number): void {
  switch (tag) {
    case CborTag.positiveBignum:
    case CborTag.negativeBignum:
      expectMajor(2, 'a byte string');
      return scanItem(depth + 1, false);
    case CborTag.namedObject:
      if (src[p] !== 0x82) throw invalid('tag 27 content that is not a 2-element array', p);
      p++;
      expectMajor(3, 'a text string');
      scanItem(depth + 2, false);
      return scanItem(depth + 2, false);
    case CborTag.set:
      expectMajor(4, 'an array');
      return scanItem(depth + 1, false);
    case CborTag.map: {
      // Any key type (that is what distinguishes a Map from an object).
      expectMajor(5, 'a map');
      const n = scanArgument(src[p++]! & 0x1f, 5, p - 1);
      need(2 * n, p);
      for (let i = 0; i < n * 2; i++) scanItem(depth + 2, false);
      return;
    }
    case CborTag.extendedTime: {
      // Exactly {1: integer seconds, -3: unsigned milliseconds}.
      if (src[p] !== 0xa2 || src[p + 1] !== 0x01) throw invalid('tag 1001 content other than {1: s, -3: ms}', p);
      p += 2;
      if (p >= end || src[p]! >> 5 > 1) throw invalid('tag 1001 seconds that are not an integer', p);
      scanItem(depth + 2, false);
      if (src[p] !== 0x22) throw invalid('tag 1001 content other than {1: s, -3: ms}', p);
      p++;
      expectMajor(0, 'an unsigned integer');
      return scanItem(depth + 2, false);
    }
    default: {
      const size = ELEMENT_SIZE_BY_TAG.get(tag);
      if (size === undefined) throw invalid(`tag ${tag}`, at);
      expectMajor(2, 'a byte string');
      const start = p;
      scanItem(depth + 1, false);
      const contentLength = p - start - headLength(src[start]! & 0x1f);
      if (contentLength % size !== 0) throw invalid(`typed array of ${contentLength} bytes`, start);
    }
  }
}

function headLength(ai: number): number {
  return ai < 24 ? 1 : ai === 24 ? 2 : ai === 25 ? 3 : ai === 26 ? 5 : 9;
}

const PROTO_KEY = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f]; // "__proto__"
function isProtoKey(b: Uint8Array, p: number): boolean {
  for (let i = 0; i < 9; i++) if (b[p + i] !== PROTO_KEY[i]) return false;
  return true;
}

// cbor-x tag handlers are process-global. Ours apply while decodeCanonical runs; at other times the
// tags keep cbor-x's own meaning, for any other cbor-x user in the process.
let decoding = 0;

function decodeNamedObject(data: unknown): unknown {
  const [name, payload] = data as [string, unknown];
  const codec = lookupCodecByName(name);
  if (codec === undefined) {
    throw new MemocallError(
      'MEMOCALL_DECODE',
      `no codec is registered under the name "${name}" (register it with registerCodec before decoding)`,
    );
  }
  // A codec may keep `.buffer` of a byte string as its own (memocall:ArrayBuffer does): it gets copies.
  return codec.decode(viewedBuffer === undefined ? payload : withOwnMemory(payload, viewedBuffer));
}

/** The memory decoded byte strings are views of (a decoding of marked bytes), else undefined. */
let viewedBuffer: ArrayBufferLike | undefined;

/**
 * `value` with every byte string or typed array that is a view of `shared` replaced by a copy,
 * in place (a payload is freshly decoded, nobody else holds it). Class instances inside were
 * built by their own codecs from copies already.
 */
function withOwnMemory(value: unknown, shared: ArrayBufferLike): unknown {
  if (ArrayBuffer.isView(value)) {
    return value.buffer === shared ? (value as Uint8Array).slice() : value;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = withOwnMemory(value[i], shared);
  } else if (value instanceof Map) {
    const entries = [...value];
    value.clear();
    for (const [k, v] of entries) value.set(withOwnMemory(k, shared), withOwnMemory(v, shared));
  } else if (value instanceof Set) {
    const elements = [...value];
    value.clear();
    for (const e of elements) value.add(withOwnMemory(e, shared));
  } else if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = withOwnMemory(record[key], shared);
  }
  return value;
}

// cbor-x's default for tag 27 (cbor.schmorp.de/generic-object), kept for other cbor-x users.
const CBOR_X_GENERIC_OBJECT: Record<string, Function> = { Error, RegExp };
function cborXGenericObject(data: unknown): unknown {
  const [name, first, second] = data as [string, unknown, unknown];
  const ctor = Object.hasOwn(CBOR_X_GENERIC_OBJECT, name) ? CBOR_X_GENERIC_OBJECT[name]! : Error;
  return (ctor as (a: unknown, b: unknown) => unknown)(first, second);
}

/** The big-endian unsigned integer in `bytes` (the scanner checked it is a byte string). */
function decodeMagnitude(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  return BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`);
}

function decodeExtendedTime(data: unknown): Date {
  // Untagged maps decode as objects, so the integer keys 1 and -3 arrive as "1" and "-3".
  const { '1': seconds, '-3': millis } = data as Record<string, unknown>;
  if (typeof seconds !== 'number' || typeof millis !== 'number' || millis > 999) {
    throw new MemocallError('MEMOCALL_DECODE', 'not memocall canonical CBOR: a malformed tag 1001 time');
  }
  const date = new Date(seconds * 1000 + millis);
  if (Number.isNaN(date.getTime())) {
    throw new MemocallError('MEMOCALL_DECODE', 'not memocall canonical CBOR: a tag 1001 time out of the Date range');
  }
  return date;
}

// cbor-x builds a bignum byte by byte, in quadratic time (a 1 MiB one never finishes); these go
// through hex, which V8 parses in linear time. Same values as cbor-x's, so they serve every cbor-x
// user in the process (cbor-x does not export its own to fall back to).
addExtension({
  tag: CborTag.positiveBignum,
  decode: (data: unknown) => (data instanceof Uint8Array ? decodeMagnitude(data) : new Tag(data, 2)),
} as unknown as Parameters<typeof addExtension>[0]);
addExtension({
  tag: CborTag.negativeBignum,
  decode: (data: unknown) => (data instanceof Uint8Array ? -1n - decodeMagnitude(data) : new Tag(data, 3)),
} as unknown as Parameters<typeof addExtension>[0]);

addExtension({
  tag: CborTag.namedObject,
  decode: (data: unknown) => (decoding > 0 ? decodeNamedObject(data) : cborXGenericObject(data)),
} as unknown as Parameters<typeof addExtension>[0]);
addExtension({
  tag: CborTag.extendedTime,
  decode: (data: unknown) => (decoding > 0 ? decodeExtendedTime(data) : new Tag(data, CborTag.extendedTime)),
} as unknown as Parameters<typeof addExtension>[0]);

const DECODER_OPTIONS = {
  useRecords: false,
  mapsAsObjects: true, // untagged maps are plain objects; tag 259 maps are Maps
  copyBuffers: true, // byte strings and typed arrays own their memory, never a view of `bytes`
  int64AsNumber: true, // 8-byte integer heads are safe integers here, not bigints
} as Options;
const decoder = new Decoder(DECODER_OPTIONS);
// For bytes marked private: byte strings, and typed arrays where aligned, are views of them.
const viewingDecoder = new Decoder({ ...DECODER_OPTIONS, copyBuffers: false } as Options);

/**
 * Bytes that only their decoder's caller will ever read, so their decoded byte strings may be
 * views of them instead of copies (see markDecodedViewsSafe).
 */
const privateBytes = new WeakSet<Uint8Array>();

/**
 * Declares that `bytes` (this very object) is read by nobody but whoever decodes it, and never
 * changes: decodeCanonical(bytes) then returns byte strings, and typed arrays where aligned, as
 * views of its memory instead of copies, which keep it alive. Only for bytes made for one
 * decoding, such as an invocation's arguments: never for bytes shared between callers (a cached
 * result), where a user writing into a returned array would change what the next caller gets.
 */
export function markDecodedViewsSafe(bytes: Uint8Array): Uint8Array {
  privateBytes.add(bytes);
  return bytes;
}

/**
 * Decode bytes written by encodeCanonical. Maps become plain objects (tag 259: Map), byte strings
 * Uint8Array, bignums bigint, tag 258 Set, tag 1001 Date, RFC 8746 tags typed arrays, tag 27 the
 * registered class via its codec. Anything outside that subset throws MemocallError
 * `MEMOCALL_DECODE` before any value is built. Byte strings and typed arrays own their memory,
 * unless `bytes` was marked with markDecodedViewsSafe (even then, a codec's payload owns its).
 */
export function decodeCanonical(bytes: Uint8Array): unknown {
  if (!(bytes instanceof Uint8Array)) {
    throw new MemocallError('MEMOCALL_DECODE', 'decodeCanonical expects a Uint8Array');
  }
  // A plain Uint8Array view: cbor-x copies with the source's species (a Buffer would give Buffers)
  // and caches a DataView on the object it is given, which must not be the caller's.
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  scan(view);
  const views = privateBytes.has(bytes);
  const outerViewed = viewedBuffer;
  viewedBuffer = views ? view.buffer : undefined;
  decoding++;
  try {
    return (views ? viewingDecoder : decoder).decode(view);
  } catch (error) {
    if (error instanceof MemocallError) throw error;
    throw new MemocallError('MEMOCALL_DECODE', `could not decode: ${(error as Error)?.message ?? String(error)}`, {
      cause: error,
    });
  } finally {
    decoding--;
    viewedBuffer = outerViewed;
  }
}
