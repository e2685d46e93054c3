// The one place a run request becomes `memocall run`'s command line and back.
import { expect, test } from 'vitest';
import { ConfigurationError, KEY_FORMAT_VERSION, parseRunArgv, runArgv } from '../../src/index.js';

test('a request survives the command line, including a writer id that starts with "-"', () => {
  for (const request of [
    { memoUri: `file:///m/${KEY_FORMAT_VERSION}/p/f/key`, writerId: '-abc_DEF' },
    { memoUri: `s3://bucket/${KEY_FORMAT_VERSION}/p/f/key` },
  ]) {
    expect(parseRunArgv(runArgv(request))).toEqual(request);
  }
  expect(runArgv({ memoUri: 'memory://x/k', writerId: 'w' })).toEqual(['run', 'memory://x/k', '--writer-id=w']);
});

test('older spellings are read, unknown flags reported and ignored, bad command lines refused', () => {
  const unknown: string[] = [];
  expect(parseRunArgv(['run', 'memory://x/k/', '--writer-id', 'w', '--newer-flag'], (f) => unknown.push(f))).toEqual({
    memoUri: 'memory://x/k',
    writerId: 'w',
  });
  expect(unknown).toEqual(['--newer-flag']);
  for (const bad of [[], ['go', 'memory://x/k'], ['run'], ['run', 'a', 'b'], ['run', 'a', '--writer-id=']])
    expect(() => parseRunArgv(bad)).toThrow(ConfigurationError);
});
