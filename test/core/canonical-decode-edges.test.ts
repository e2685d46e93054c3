// Boundaries of the decoder's checks that the golden vectors do not reach.
import { describe, expect, test } from 'vitest';
import { decodeCanonical } from '../../src/core/canonical-decode.js';
import { encodeCanonical } from '../../src/core/canonical-encode.js';
import { MemocallError } from '../../src/core/memocall-error.js';

const fromHex = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));

describe('tag 1001 time {1: seconds, -3: milliseconds}', () => {
  // d903e9 = tag 1001, a2 = map of 2, 01 = key 1, 1a<4 bytes> = seconds, 22 = key -3, 19<2 bytes> = ms
  const time = (millisHex: string) => fromHex(`d903e9a2011a5f5e100022${millisHex}`); // 1600000000 s

  test('999 milliseconds, the largest valid value, decodes', () => {
    const date = decodeCanonical(time('1903e7')) as Date;
    expect(date).toBeInstanceOf(Date);
    expect(date.getTime()).toBe(1_600_000_000_999);
    expect(encodeCanonical(date)).toEqual(time('1903e7')); // and is canonical
  });

  test.each([
    ['1000', '1903e8'],
    ['1001', '1903e9'],
    ['65535', '19ffff'],
  ])('%s milliseconds is refused (a second has 1000)', (_label, millisHex) => {
    let error: unknown;
    try {
      decodeCanonical(time(millisHex));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MemocallError);
    expect((error as MemocallError).code).toBe('MEMOCALL_DECODE');
    expect((error as Error).message).toMatch(/malformed tag 1001 time/);
  });
});
