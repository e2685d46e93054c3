// Trailing `undefined` arguments are dropped before keying, however many there are.
import { expect, test } from 'vitest';
import { argsKey, encodeArgs } from '../../src/core/args-key.js';
import { concatChunks } from '../../src/core/concat-chunks.js';

const encoded = (args: unknown[]) => concatChunks(encodeArgs(args));

test('f(), f(undefined) and f(undefined, undefined) share one key; f(undefined, 1) does not', () => {
  expect(encoded([undefined])).toEqual(encoded([]));
  expect(encoded([undefined, undefined])).toEqual(encoded([]));
  expect(encoded([undefined, undefined, undefined])).toEqual(encoded([]));
  expect(encoded([1, undefined, undefined])).toEqual(encoded([1]));
  expect(encoded([undefined, 1])).not.toEqual(encoded([1]));
  expect(argsKey([undefined, undefined]).key).toBe(argsKey([]).key);
});
