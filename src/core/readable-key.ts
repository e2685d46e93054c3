import { MemocallError } from './memocall-error.js';

/**
 * The text form of a 32-byte digest, used as a path segment: `KiboNeda.<39 base64url chars>`.
 *
 * The first 3 bytes become 4 consonant-vowel syllables (6 bits each: 16 consonants x 4 vowels),
 * shown as two TitleCased words so a person can say and compare keys; the other 29 bytes follow as
 * unpadded base64url. All 256 bits are kept, so it is as collision-safe as the digest. Only
 * [A-Za-z0-9_.-] appear: no `/`, `+`, `=` or `%`, nothing to escape on any store. 48 characters.
 */

const CONSONANTS = 'bdfghjklmnprstvz';
const VOWELS = 'aeio';
const KEY_PATTERN = /^([A-Z][a-z][a-z][a-z])([A-Z][a-z][a-z][a-z])\.([A-Za-z0-9_-]{39})$/; // 39 = ceil(29 * 8 / 6)

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
// The 64 syllables, lower-case and TitleCased, indexed by their 6 bits.
const SYLLABLES = Array.from({ length: 64 }, (_, bits) => CONSONANTS[bits >> 2]! + VOWELS[bits & 3]!);
const TITLE_SYLLABLES = SYLLABLES.map((s) => s[0]!.toUpperCase() + s[1]!);

export function readableKey(digest: Uint8Array): string {
  if (!(digest instanceof Uint8Array) || digest.length !== 32) {
    throw new MemocallError('MEMOCALL_KEY', 'readableKey expects a 32-byte digest');
  }
  const b0 = digest[0]!;
  const b1 = digest[1]!;
  const b2 = digest[2]!;
  let key =
    TITLE_SYLLABLES[b0 >> 2]! +
    SYLLABLES[((b0 & 3) << 4) | (b1 >> 4)]! +
    TITLE_SYLLABLES[((b1 & 15) << 2) | (b2 >> 6)]! +
    SYLLABLES[b2 & 63]! +
    '.';
  // base64url of bytes 3..31, unpadded (hand-rolled: cheaper than a Buffer round trip per call).
  let i = 3;
  for (; i + 3 <= 32; i += 3) {
    const n = (digest[i]! << 16) | (digest[i + 1]! << 8) | digest[i + 2]!;
    key += BASE64URL[n >> 18]! + BASE64URL[(n >> 12) & 63]! + BASE64URL[(n >> 6) & 63]! + BASE64URL[n & 63]!;
  }
  // 29 = 9 * 3 + 2: two bytes left, three characters.
  const n = (digest[i]! << 8) | digest[i + 1]!;
  key += BASE64URL[n >> 10]! + BASE64URL[(n >> 4) & 63]! + BASE64URL[(n << 2) & 63]!;
  return key;
}

/** The digest a readable key was made from; throws MemocallError `MEMOCALL_KEY` if it is not one. */
export function parseReadableKey(key: string): Uint8Array {
  const match = KEY_PATTERN.exec(key);
  if (match === null) throw new MemocallError('MEMOCALL_KEY', `not a readable key: ${JSON.stringify(key)}`);
  const letters = (match[1]! + match[2]!).toLowerCase();
  let bits = 0;
  for (let i = 0; i < 8; i += 2) {
    const c = CONSONANTS.indexOf(letters[i]!);
    const v = VOWELS.indexOf(letters[i + 1]!);
    if (c < 0 || v < 0) throw new MemocallError('MEMOCALL_KEY', `not a readable key: ${JSON.stringify(key)}`);
    bits = (bits << 6) | (c << 2) | v;
  }
  const tail = Buffer.from(match[3]!, 'base64url');
  // 39 characters carry 234 bits for 232: the spare bits must be zero, so each digest has one key.
  if (tail.length !== 29 || tail.toString('base64url') !== match[3]) {
    throw new MemocallError('MEMOCALL_KEY', `not a readable key: ${JSON.stringify(key)}`);
  }
  const digest = new Uint8Array(32);
  digest[0] = bits >> 16;
  digest[1] = (bits >> 8) & 0xff;
  digest[2] = bits & 0xff;
  digest.set(tail, 3);
  return digest;
}
