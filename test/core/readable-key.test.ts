import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { MemocallError } from '../../src/core/memocall-error.js';
import { parseReadableKey, readableKey } from '../../src/core/readable-key.js';

const KEY_SHAPE =
  /^[BDFGHJKLMNPRSTVZ][aeio][bdfghjklmnprstvz][aeio][BDFGHJKLMNPRSTVZ][aeio][bdfghjklmnprstvz][aeio]\.[A-Za-z0-9_-]{39}$/;

describe('readableKey', () => {
  test('layout: two TitleCased 2-syllable words, a dot, base64url of the last 29 bytes', () => {
    expect(readableKey(new Uint8Array(32))).toBe(`BabaBaba.${'A'.repeat(39)}`);
    // all ones: syllable 63 = "zo"; the last character carries 4 bits + 2 zero bits (111100 = "8")
    expect(readableKey(new Uint8Array(32).fill(0xff))).toBe(`ZozoZozo.${'_'.repeat(38)}8`);
    const digest = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
    // bytes 00 07 0e = 000000 000000 011100 001110 = syllables 0, 0, 28, 14
    // 0 = b+a; 28 = consonant 7 (l) + vowel 0 (a); 14 = consonant 3 (g) + vowel 2 (i)
    const key = readableKey(digest);
    expect(key.slice(0, 9)).toBe('BabaLagi.');
    expect(key.slice(9)).toBe(Buffer.from(digest.subarray(3)).toString('base64url'));
  });

  test('every key is 48 characters of a path-safe alphabet, and distinct digests give distinct keys', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const key = readableKey(randomBytes(32));
      expect(key).toMatch(KEY_SHAPE);
      expect(key).toHaveLength(48);
      seen.add(key);
    }
    expect(seen.size).toBe(2000);
  });

  test('the prefix uses all 16 consonants and 4 vowels: 24 bits', () => {
    const prefixes = new Set<string>();
    for (let b0 = 0; b0 < 256; b0++) {
      const digest = new Uint8Array(32);
      digest[0] = b0;
      prefixes.add(readableKey(digest).slice(0, 4));
    }
    expect(prefixes.size).toBe(256);
  });

  test('refuses anything but 32 bytes', () => {
    expect(() => readableKey(new Uint8Array(31))).toThrow(MemocallError);
    expect(() => readableKey(new Uint8Array(33))).toThrow(MemocallError);
    expect(() => readableKey([...new Uint8Array(32)] as never)).toThrow('readableKey expects a 32-byte digest');
  });
});

describe('parseReadableKey', () => {
  test('is the inverse of readableKey', () => {
    for (let i = 0; i < 1000; i++) {
      const digest = Uint8Array.from(randomBytes(32));
      expect(parseReadableKey(readableKey(digest))).toEqual(digest);
    }
  });

  test.each([
    ['empty', ''],
    ['too short', `BabaBaba.${'A'.repeat(38)}`],
    ['too long', `BabaBaba.${'A'.repeat(40)}`],
    ['no dot', `BabaBaba${'A'.repeat(40)}`],
    ['a consonant outside the set', `CabaBaba.${'A'.repeat(39)}`],
    ['a vowel outside the set', `BubaBaba.${'A'.repeat(39)}`],
    ['lower-case word start', `babaBaba.${'A'.repeat(39)}`],
    ['standard base64 characters', `BabaBaba.${'+'.repeat(39)}`],
    ['padding', `BabaBaba.${'A'.repeat(38)}=`],
    ['text before the key', `xBabaBaba.${'A'.repeat(39)}`],
    ['non-zero spare bits (a second spelling of the same digest)', `BabaBaba.${'A'.repeat(38)}B`],
  ])('refuses %s', (_label, key) => {
    expect(() => parseReadableKey(key)).toThrow(MemocallError);
    // The message quotes the key as given (JSON: control characters and quotes stay visible).
    expect(() => parseReadableKey(key)).toThrow(`not a readable key: ${JSON.stringify(key)}`);
  });
});
