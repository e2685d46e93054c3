import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { sha256, sha256Chunks, sha256Hex } from '../../src/core/sha256.js';
import { sha256 as sha256Portable } from '@noble/hashes/sha2.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('sha256', () => {
  test('known vectors (FIPS 180-2)', () => {
    expect(hex(sha256(new Uint8Array(0)))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(sha256(new TextEncoder().encode('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(hex(sha256(new TextEncoder().encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  test('sha256Hex: the same digest in lower-case hex, of bytes or of a string as UTF-8', () => {
    const abc = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    expect(sha256Hex('abc')).toBe(abc);
    expect(sha256Hex(new TextEncoder().encode('abc'))).toBe(abc);
    expect(sha256Hex('é')).toBe(hex(sha256(new TextEncoder().encode('é'))));
  });

  test('returns a plain 32-byte Uint8Array, not a Buffer', () => {
    for (const digest of [
      sha256(new Uint8Array(1)),
      sha256Chunks([new Uint8Array(1), new Uint8Array(1)]),
      sha256Portable(new Uint8Array(1)),
    ]) {
      expect(Object.getPrototypeOf(digest)).toBe(Uint8Array.prototype);
      expect(digest.length).toBe(32);
    }
  });

  test('node:crypto and @noble/hashes agree on every size around block boundaries and beyond', () => {
    const sizes = [...Array.from({ length: 200 }, (_, i) => i), 511, 512, 513, 1023, 1024, 4095, 4096, 65537, 1 << 20];
    for (const size of sizes) {
      const data = randomBytes(size);
      expect(hex(sha256(data)), `size ${size}`).toBe(hex(sha256Portable(data)));
    }
  });

  test('hashes only the view, not the whole underlying buffer', () => {
    const backing = randomBytes(100);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 10, 50);
    expect(hex(sha256(view))).toBe(hex(sha256Portable(Uint8Array.from(view))));
  });

  test('sha256Chunks equals sha256 of the concatenation, for any split', () => {
    const data = randomBytes(10_000);
    const whole = hex(sha256(data));
    expect(hex(sha256Chunks([]))).toBe(hex(sha256(new Uint8Array(0))));
    expect(hex(sha256Chunks([data]))).toBe(whole);
    for (let trial = 0; trial < 50; trial++) {
      const cuts = Array.from({ length: 1 + (trial % 7) }, () => Math.floor(Math.random() * data.length)).sort(
        (a, b) => a - b,
      );
      const chunks: Uint8Array[] = [];
      let start = 0;
      for (const cut of [...cuts, data.length]) {
        chunks.push(data.subarray(start, cut)); // empty chunks included
        start = cut;
      }
      expect(hex(sha256Chunks(chunks))).toBe(whole);
    }
  });
});
