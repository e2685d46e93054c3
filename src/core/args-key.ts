import { encodeCanonicalChunks } from './canonical-encode.js';
import { readableKey } from './readable-key.js';
import { sha256Chunks } from './sha256.js';

/**
 * Invocation keys: SHA-256 over the canonical encoding of the arguments array, and nothing else
 * (the function, pipeline and key format are separate segments of the memo URI).
 */

export interface HashedValue {
  /** The readable key (readable-key.ts), the memo URI's last segment. */
  key: string;
  /** SHA-256 of the canonical encoding. */
  digest: Uint8Array;
  /** The canonical encoding, as chunks (large byte arrays are views of the caller's memory). */
  chunks: Uint8Array[];
}

/** Encode `value` canonically (errors name paths from `rootPath`) and hash it. */
export function hashKey(value: unknown, rootPath = 'value'): HashedValue {
  const chunks = encodeCanonicalChunks(value, rootPath);
  const digest = sha256Chunks(chunks);
  return { key: readableKey(digest), digest, chunks };
}

/**
 * The key of a call's arguments. Trailing `undefined` arguments are dropped first, so `f(1)` and
 * `f(1, undefined)` share a key; errors read like `args[1].model.fit is a function`.
 */
export function argsKey(args: readonly unknown[]): HashedValue {
  const chunks = encodeArgs(args);
  const digest = sha256Chunks(chunks);
  return { key: readableKey(digest), digest, chunks };
}

/** The canonical encoding of an argument list (trailing `undefined`s dropped), as chunks. */
export function encodeArgs(args: readonly unknown[]): Uint8Array[] {
  let n = args.length;
  while (n > 0 && args[n - 1] === undefined) n--;
  return encodeCanonicalChunks(n === args.length ? args : args.slice(0, n), 'args');
}

/** The readable key of already encoded arguments. */
export function keyOfEncoded(chunks: readonly Uint8Array[]): string {
  return readableKey(sha256Chunks(chunks));
}
