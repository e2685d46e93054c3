// The memo URI grammar, pinned (docs/keys.md, "Memo URIs"). Changing any row changes where results
// are stored: it needs a KEY_FORMAT_VERSION bump.
import { describe, expect, test } from 'vitest';
import { KEY_FORMAT_VERSION } from '../../src/core/key-format.js';
import {
  functionMemospace,
  InvalidMemoUriError,
  memoUriOf,
  parseMemoUri,
  type MemoUriParts,
} from '../../src/protocol/memo-uri.js';

const ROOT = 's3://bucket/memo';
const K0 = 'LepoVifo.Uo0Adfeq6Y1vpXptPIOuSAqEaeZo17CvlomVrHE'; // argsKey([])
const K1 = 'RaroBolo.jvZMj8L60QNp7lg7ymzUsdeHeBjdvHpl2pCeGbE'; // argsKey([30])

type Row = [
  pipelineId: string,
  functionId: string,
  logicKey: string | undefined,
  calls: string | undefined,
  argsKey: string,
  uri: string,
];

const golden: Row[] = [
  ['default', 'examples/fibonacci--fib', undefined, undefined, K0, 'default/examples~fibonacci--fib/' + K0],
  ['team/alpha', 'prep', undefined, undefined, K0, 'team~alpha/prep/' + K0],
  ['team', 'alpha/prep', undefined, undefined, K0, 'team/alpha~prep/' + K0],
  ['p', 'train', 'v2', undefined, K1, 'p/train@v2/' + K1],
  ['p', 'train', 'v2/fast', undefined, K1, 'p/train@v2~fast/' + K1],
  ['p', 'f', undefined, 'calls-AbC_d-0123456789xy', K0, 'p/f/calls-AbC_d-0123456789xy/' + K0],
  ['p', 'f/calls-AbC_d-0123456789xy', undefined, undefined, K0, 'p/f~calls-AbC_d-0123456789xy/' + K0],
  ['p', 'a--b', undefined, undefined, K0, 'p/a--b/' + K0],
  ['p', 'a/b', undefined, undefined, K0, 'p/a~b/' + K0],
  ['p', 'mod--fn', 'logic-1', 'calls-x', K1, 'p/mod--fn@logic-1/calls-x/' + K1],
  ['a.b_c+d=e,f-g', 'v1.2_x+y=z,w-q', '=,+', undefined, K0, 'a.b_c+d=e,f-g/v1.2_x+y=z,w-q@=,+/' + K0],
  [
    KEY_FORMAT_VERSION,
    KEY_FORMAT_VERSION,
    undefined,
    undefined,
    K0,
    `${KEY_FORMAT_VERSION}/${KEY_FORMAT_VERSION}/${K0}`,
  ],
];

const partsOf = ([pipelineId, functionId, logicKey, callsSegment, argsKey]: Row, blobRoot = ROOT): MemoUriParts => ({
  blobRoot,
  pipelineId,
  functionId,
  logicKey,
  callsSegment,
  argsKey,
});

describe(`the memo URI grammar (${KEY_FORMAT_VERSION})`, () => {
  test('the key format version is memocall-v2', () => {
    expect(KEY_FORMAT_VERSION).toBe('memocall-v2');
  });

  test.each(golden)('(%s, %s, %s, %s, %s) → <root>/memocall-v2/%s', (...row) => {
    const expected = `${ROOT}/${KEY_FORMAT_VERSION}/${row[5]}`;
    expect(memoUriOf(partsOf(row))).toBe(expected);
    expect(`${functionMemospace(partsOf(row))}/${row[4]}`).toBe(expected);
    // And back, with the blob root given or found.
    expect(parseMemoUri(expected, ROOT)).toEqual(partsOf(row));
    expect(parseMemoUri(expected)).toEqual(partsOf(row));
  });

  test('a trailing slash of the blob root is not doubled; file:// roots work alike', () => {
    const row = golden[0]!;
    expect(memoUriOf(partsOf(row, 'file:///tmp/m/'))).toBe(`file:///tmp/m/${KEY_FORMAT_VERSION}/${row[5]}`);
    expect(parseMemoUri(`file:///tmp/m/${KEY_FORMAT_VERSION}/${row[5]}`, 'file:///tmp/m/')).toEqual(
      partsOf(row, 'file:///tmp/m'),
    );
  });

  test('the code-hash segment (reserved for code-aware keys) comes before calls and round-trips', () => {
    const parts: MemoUriParts = { ...partsOf(golden[9]!), codeSegment: 'code-Zz_9-' };
    const uri = memoUriOf(parts);
    expect(uri).toBe(`${ROOT}/${KEY_FORMAT_VERSION}/p/mod--fn@logic-1/code-Zz_9-/calls-x/${K1}`);
    expect(parseMemoUri(uri)).toEqual(parts);
  });

  test.each([
    ['function id', { functionId: 'train@v2' }],
    ['function id', { functionId: 'a~b' }],
    ['function id', { functionId: 'a%2Fb' }],
    ['function id', { functionId: 'a//b' }],
    ['function id', { functionId: '/a' }],
    ['function id', { functionId: 'a/' }],
    ['function id', { functionId: '../x' }],
    ['function id', { functionId: '.' }],
    ['function id', { functionId: '' }],
    ['function id', { functionId: 'ä' }],
    ['pipeline id', { pipelineId: 'team@x' }],
    ['pipeline id', { pipelineId: 'team~alpha' }],
    ['logicKey', { logicKey: 'v@2' }],
    ['logicKey', { logicKey: '' }],
    ['calls segment', { callsSegment: 'calls-a/b' }],
    ['calls segment', { callsSegment: 'call-x' }],
    ['code segment', { codeSegment: 'calls-x' }],
    ['argsKey', { argsKey: 'not-a-key' }],
  ] as const)('refused: %s %j', (what, change) => {
    expect(() => memoUriOf({ ...partsOf(golden[0]!), ...change })).toThrow(
      expect.objectContaining({ code: 'MEMOCALL_CONFIGURATION', message: expect.stringContaining(what) }),
    );
  });

  test.each([
    ['another version', `${ROOT}/memocall-v1/p/f/${K0}`],
    ['too few segments', `${ROOT}/${KEY_FORMAT_VERSION}/p/${K0}`],
    ['too many segments', `${ROOT}/${KEY_FORMAT_VERSION}/p/f/calls-x/calls-y/extra/${K0}`],
    ['two @', `${ROOT}/${KEY_FORMAT_VERSION}/p/f@a@b/${K0}`],
    ['calls before code', `${ROOT}/${KEY_FORMAT_VERSION}/p/f/calls-x/code-y/${K0}`],
    ['an unknown qualifier', `${ROOT}/${KEY_FORMAT_VERSION}/p/f/extra/${K0}`],
    ['an argsKey that is not one', `${ROOT}/${KEY_FORMAT_VERSION}/p/f/k`],
    ['an id segment outside the grammar', `${ROOT}/${KEY_FORMAT_VERSION}/p/f%2Fg/${K0}`],
    ['an empty id part', `${ROOT}/${KEY_FORMAT_VERSION}/p/a~~b/${K0}`],
  ])('not a memo URI: %s', (_what, uri) => {
    expect(() => parseMemoUri(uri, ROOT)).toThrow(InvalidMemoUriError);
    expect(() => parseMemoUri(uri)).toThrow(InvalidMemoUriError);
  });

  test('a URI two blob roots would explain is refused without the root, and parsed with it', () => {
    // root R: pipeline memocall-v2, function f, calls-x — or root R/memocall-v2: pipeline f, function calls-x.
    const uri = `${ROOT}/${KEY_FORMAT_VERSION}/${KEY_FORMAT_VERSION}/f/calls-x/${K0}`;
    expect(() => parseMemoUri(uri)).toThrow(/2 different blob roots/);
    expect(parseMemoUri(uri, ROOT)).toMatchObject({
      pipelineId: KEY_FORMAT_VERSION,
      functionId: 'f',
      callsSegment: 'calls-x',
    });
    expect(parseMemoUri(uri, `${ROOT}/${KEY_FORMAT_VERSION}`)).toMatchObject({
      pipelineId: 'f',
      functionId: 'calls-x',
    });
  });
});

test('the pipeline ids cas and outputs are reserved: memocall keeps its own data there', () => {
  for (const pipelineId of ['cas', 'outputs'])
    expect(() =>
      functionMemospace({
        blobRoot: 'memory://r',
        pipelineId,
        functionId: 'f',
        logicKey: undefined,
        callsSegment: undefined,
      }),
    ).toThrow(/is reserved/);
  expect(
    functionMemospace({
      blobRoot: 'memory://r',
      pipelineId: 'cas/x',
      functionId: 'f',
      logicKey: undefined,
      callsSegment: undefined,
    }),
  ).toContain('/cas~x/f');
});
