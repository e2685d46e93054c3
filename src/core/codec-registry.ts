import { MemocallError } from './memocall-error.js';

/**
 * Named codecs for classes the canonical encoding does not know by itself.
 *
 * An instance of a registered class is encoded as CBOR tag 27 `[name, payload]`, where `payload`
 * is whatever `encode` returns (encoded canonically in turn); decoding calls `decode(payload)`.
 * The name, not the JavaScript class, is what is stored and hashed, so it must stay stable for as
 * long as stored results should be found and read.
 */

/** Any class, including abstract ones; only its `prototype` is used, never its constructor. */
export type AnyClass<T = unknown> = abstract new (...args: any[]) => T;

export interface Codec<T = unknown> {
  readonly name: string;
  readonly cls: AnyClass<T>;
  readonly encode: (value: T) => unknown;
  readonly decode: (payload: any) => T;
}

/** Names with this prefix belong to memocall's own types (ArrayBuffer, DataView, files...). */
export const RESERVED_CODEC_PREFIX = 'memocall:';

const byName = new Map<string, Codec<any>>();
// Keyed by prototype: the encoder matches the exact class of a value (Object.getPrototypeOf), so a
// subclass without its own codec is refused instead of being silently encoded as its parent.
const byPrototype = new Map<object, Codec<any>>();

// Classes the encoder handles itself: a codec for them would never be consulted, so refuse it
// rather than let the user believe it is used.
const NATIVE_CLASSES: readonly Function[] = [
  Object,
  Array,
  Map,
  Set,
  Date,
  Uint8Array,
  Buffer,
  Uint8ClampedArray,
  Uint16Array,
  Uint32Array,
  BigUint64Array,
  Int8Array,
  Int16Array,
  Int32Array,
  BigInt64Array,
  Float32Array,
  Float64Array,
  Function,
  String,
  Number,
  Boolean,
  BigInt,
  Symbol,
];

/**
 * Register how instances of `cls` (exactly that class, not subclasses) are encoded in arguments and
 * results. `name` must be unique; registering the same name with the same class again replaces the
 * functions (so re-running module code is harmless); any other reuse of a name or a class throws.
 */
export function registerCodec<T>(
  name: string,
  cls: AnyClass<T>,
  encode: (value: T) => unknown,
  decode: (payload: any) => T,
): void {
  if (typeof name === 'string' && name.startsWith(RESERVED_CODEC_PREFIX)) {
    throw new MemocallError(
      'MEMOCALL_CODEC',
      `codec name "${name}" is reserved: names starting with "${RESERVED_CODEC_PREFIX}" belong to memocall`,
    );
  }
  addCodec(name, cls, encode, decode);
}

/** The library's own codecs (names starting with `memocall:`). Internal: not re-exported publicly. */
export function registerBuiltinCodec<T>(
  name: string,
  cls: AnyClass<T>,
  encode: (value: T) => unknown,
  decode: (payload: any) => T,
): void {
  if (!name.startsWith(RESERVED_CODEC_PREFIX)) {
    throw new MemocallError(
      'MEMOCALL_CODEC',
      `built-in codec name "${name}" must start with "${RESERVED_CODEC_PREFIX}"`,
    );
  }
  addCodec(name, cls, encode, decode);
}

function addCodec<T>(name: string, cls: AnyClass<T>, encode: (value: T) => unknown, decode: (payload: any) => T): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new MemocallError('MEMOCALL_CODEC', 'codec name must be a non-empty string');
  }
  if (typeof cls !== 'function' || typeof cls.prototype !== 'object' || cls.prototype === null) {
    throw new MemocallError('MEMOCALL_CODEC', `codec "${name}": cls must be a class`);
  }
  if (typeof encode !== 'function' || typeof decode !== 'function') {
    throw new MemocallError('MEMOCALL_CODEC', `codec "${name}": encode and decode must be functions`);
  }
  if (NATIVE_CLASSES.includes(cls)) {
    throw new MemocallError(
      'MEMOCALL_CODEC',
      `codec "${name}": ${cls.name} is encoded natively by memocall and cannot have a codec`,
    );
  }
  const proto = cls.prototype as object;
  const sameName = byName.get(name);
  if (sameName !== undefined && sameName.cls !== cls) {
    throw new MemocallError(
      'MEMOCALL_CODEC',
      `codec name "${name}" is already registered for class ${sameName.cls.name || '(anonymous)'}`,
    );
  }
  const sameClass = byPrototype.get(proto);
  if (sameClass !== undefined && sameClass.name !== name) {
    throw new MemocallError(
      'MEMOCALL_CODEC',
      `class ${cls.name || '(anonymous)'} already has a codec named "${sameClass.name}"`,
    );
  }
  const codec: Codec<T> = Object.freeze({ name, cls, encode, decode });
  byName.set(name, codec);
  byPrototype.set(proto, codec);
}

/** The codec registered for exactly this class, if any. */
export function lookupCodecByClass<T>(cls: AnyClass<T>): Codec<T> | undefined {
  return byPrototype.get(cls.prototype as object) as Codec<T> | undefined;
}

/** The codec of a value whose prototype is `proto` (the encoder's hot path: one Map lookup). */
export function lookupCodecByPrototype(proto: object): Codec | undefined {
  return byPrototype.get(proto);
}

/** The codec registered under `name`, if any (the decoder's lookup for tag 27). */
export function lookupCodecByName(name: string): Codec | undefined {
  return byName.get(name);
}

// Built-in codecs for the binary containers RFC 8746 has no tag for. The payload is the bytes,
// copied on decode so the result owns exactly its own memory.
function payloadBytes(payload: unknown, name: string): Uint8Array {
  if (!(payload instanceof Uint8Array)) {
    throw new MemocallError('MEMOCALL_DECODE', `codec "${name}": payload is not a byte string`);
  }
  return payload.slice();
}
registerBuiltinCodec(
  'memocall:ArrayBuffer',
  ArrayBuffer,
  (buffer: ArrayBuffer) => new Uint8Array(buffer),
  (payload: unknown) => payloadBytes(payload, 'memocall:ArrayBuffer').buffer as ArrayBuffer,
);
registerBuiltinCodec(
  'memocall:DataView',
  DataView,
  (view: DataView) => new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
  (payload: unknown) => new DataView(payloadBytes(payload, 'memocall:DataView').buffer),
);
