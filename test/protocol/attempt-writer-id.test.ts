import { expect, test } from 'vitest';
import { attemptWriterId, isWriterOrAttempt, parseAttemptWriterId } from '../../src/protocol/attempt-writer-id.js';

test("an attempt id extends its caller's writer id, and parses back", () => {
  expect(attemptWriterId('Wr1-_x', 3)).toBe('Wr1-_x#a3');
  expect(parseAttemptWriterId('Wr1-_x#a3')).toEqual({ writerId: 'Wr1-_x', attempt: 3 });
  for (const plain of ['Wr1', '#a3', 'W#a0', 'W#a', 'W#a01', 'W#ax', 'W#a1x'])
    expect(parseAttemptWriterId(plain)).toBeUndefined();
});

test("a writer owns its own id and its attempts' ids, never another writer's or a sibling attempt's", () => {
  expect(isWriterOrAttempt('W', 'W')).toBe(true);
  expect(isWriterOrAttempt('W#a2', 'W')).toBe(true);
  expect(isWriterOrAttempt('V#a2', 'W')).toBe(false);
  expect(isWriterOrAttempt('W2#a1', 'W')).toBe(false);
  expect(isWriterOrAttempt('W#a2', 'W#a1')).toBe(false); // an earlier attempt is fenced out
  expect(isWriterOrAttempt('W#a1', 'W#a1')).toBe(true);
});
