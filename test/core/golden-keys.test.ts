import { describe, expect, test } from 'vitest';
import { argsKey } from '../../src/core/args-key.js';
import { encodeCanonical } from '../../src/core/canonical-encode.js';
import { KEY_FORMAT_VERSION } from '../../src/core/key-format.js';
import { sha256 } from '../../src/core/sha256.js';

/*
 * Pinned encodings and SHA-256 digests. If one of these changes, keys computed by the new code no
 * longer find results stored by the old code: that is a key format change, which must bump
 * KEY_FORMAT_VERSION (and docs/keys.md) together with these values. Never "fix" this file alone.
 * The digests were cross-checked with Python's hashlib over the pinned bytes.
 */

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

// [label, value, canonical encoding in hex (null when long), sha256 of the encoding]
const GOLDEN: [string, () => unknown, string | null, string][] = [
  ['null', () => null, 'f6', 'b0b2988b6bbe724bacda5e9e524736de0bc7dae41c46b4213c50e1d35d4e5f13'],
  ['undefined', () => undefined, 'f7', '50868f20258bbc9cce0da2719e8654c108733dd2f663b8737c574ec0ead93eb3'],
  ['false', () => false, 'f4', '2017ff3461395672aa0aa4f64894fd2f95a4b120e2690e8951656d79adc2eed2'],
  ['true', () => true, 'f5', '27abdeddfe8503496adeb623466caa47da5f63abd2bc6fa19f6cfcb73ecfed70'],
  ['0', () => 0, '00', '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d'],
  ['-0', () => -0, '00', '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d'],
  ['23', () => 23, '17', '8f11b05da785e43e713d03774c6bd3405d99cd3024af334ffd68db663aa37034'],
  ['24', () => 24, '1818', '7c6348f7ea8a4e831aafe688a2557d7a3ab0be8549cdb190a029956ade971b15'],
  ['-1', () => -1, '20', '36a9e7f1c95b82ffb99743e0c5c4ce95d83c9a430aac59f84ef3cbfab6145068'],
  ['-25', () => -25, '3818', 'dd7baa54409c052850ed2e03e586086bfed37a275ae4aee888711cd7c46bc91f'],
  ['2**32', () => 2 ** 32, '1b0000000100000000', 'ff0a4ebee87c783ebeb2197fb436cfee11c1172a7363c7c133e085878c7d58ff'],
  [
    'MAX_SAFE_INTEGER',
    () => Number.MAX_SAFE_INTEGER,
    '1b001fffffffffffff',
    '14f502e8a30340288b9da98ed55d9f230c8a92ee86336198df6d1b4e278f3d1e',
  ],
  [
    'MIN_SAFE_INTEGER',
    () => Number.MIN_SAFE_INTEGER,
    '3b001ffffffffffffe',
    'b8bffbf8b2acb5f9ab20de5a8e67934742ab22d3a3fc69de9707a1a0e8696442',
  ],
  ['2**53', () => 2 ** 53, 'fb4340000000000000', 'af4277b31cb33dea149f70a9dff27b9f20534abc634e954680eb5482df2f7802'],
  ['1.5', () => 1.5, 'fb3ff8000000000000', '3a447a89cc973d3a3de5cf77ad9948f4b23c1c07621cdfef84ae78345505e516'],
  ['-0.1', () => -0.1, 'fbbfb999999999999a', 'ef36cdc8e3188a8d801a01ff67946de6ed72ad128b689253ecbf250f03541dba'],
  ['NaN', () => NaN, 'fb7ff8000000000000', 'c7a0b2fb24a887e3b99385cc27fd23546d12a29b9e719f532e039a16acaeef07'],
  [
    'Infinity',
    () => Infinity,
    'fb7ff0000000000000',
    '6cdec179976a412f59a2f158ccd5a8d85755b1a00f5975264510030c3f2426c4',
  ],
  ['5n', () => 5n, 'c24105', '0ce5a233e1c0a0436a6063a147c4e8c393b0072b9aa6a0e08e81792e28c64c54'],
  ['-5n', () => -5n, 'c34104', '3afc5600cbcf133947a38d113ad160e0c0d8dd195dbdc95cf19ec7dbaa9bb11b'],
  ['0n', () => 0n, 'c240', 'cc5807a3ed39f116e1c51802b84cda89bbd6d4a6eecd65757d49ab24ee93c764'],
  [
    '2n**64n',
    () => 2n ** 64n,
    'c249010000000000000000',
    '140308c2b6fefc2dab159b96a16190a016ac4a30f6130591e33a01b741a6538a',
  ],
  ['""', () => '', '60', '8d33f520a3c4cef80d2453aef81b612bfe1cb44c8b2025630ad38662763f13d3'],
  [
    '"memocall"',
    () => 'memocall',
    '686d656d6f63616c6c',
    'a1767b281ab55d5a4af63dd5bee8a5d905020494be127c6d2e72e9e10d472c33',
  ],
  [
    '"na\u00efve \u2603 \ud83d\ude00"',
    () => 'naïve ☃ 😀',
    '6f6e61c3af766520e2988320f09f9880',
    '4f5adb9280f30e8c574bd0a2c61fb42c5c7167a9d67024f50222e636122cbbc0',
  ],
  ['[]', () => [], '80', '76be8b528d0075f7aae98d6fa57a6d3c83ae480a8469e668d7b0af968995ac71'],
  ['[1, [2, 3]]', () => [1, [2, 3]], '8201820203', '2a3d321ca37169fa0d50007e11228e3644c45a8cbf27ae6ddc59b90b09c8195d'],
  [
    '[undefined, null]',
    () => [undefined, null],
    '82f7f6',
    'a867c077b15bd091b1d4552bd5c5ad366d70b2336db4a96d473f7148edf43bb5',
  ],
  ['{}', () => ({}), 'a0', 'c19a797fa1fd590cd2e5b42d1cf5f246e29b91684e2f87404b81dc345c7a56a0'],
  [
    '{a: 1, b: "x"}',
    () => ({ a: 1, b: 'x' }),
    'a261610161626178',
    '1cbbcca5a712624fb98575c455763651a013627c0845e4f4ce2c53a23f39ca16',
  ],
  [
    '{b: "x", a: 1, c: undefined}',
    () => ({ b: 'x', a: 1, c: undefined }),
    'a261610161626178',
    '1cbbcca5a712624fb98575c455763651a013627c0845e4f4ce2c53a23f39ca16',
  ],
  [
    '{aa: 1, b: 2, \u00e9: 3}',
    () => ({ aa: 1, b: 2, é: 3 }),
    'a36162026261610162c3a903',
    'a84d716c879593e2c386d9e986e9eae6914ac164d4c4440969fd68327ffd0dc4',
  ],
  [
    'Uint8Array [1,2,3]',
    () => new Uint8Array([1, 2, 3]),
    '43010203',
    '2c7515ab864c27be8427cfe32d4ba890e1d7522584b48541f8adc38ff2035483',
  ],
  [
    'Float32Array [1.5, -2]',
    () => new Float32Array([1.5, -2]),
    'd855480000c03f000000c0',
    'fe81951ffdaaec78f73d1af6db6fe210d7d86072ff4febaaf8871ce21eb655ba',
  ],
  [
    'Int32Array [-1, 7]',
    () => new Int32Array([-1, 7]),
    'd84e48ffffffff07000000',
    '66c0b0ffd39cb7b958d74280fdd1ec35ff9aa79e644fd94a80506703b14e7506',
  ],
  [
    'Float64Array [0.25]',
    () => new Float64Array([0.25]),
    'd85648000000000000d03f',
    '97baad77748c3a836796f7d1922366390850be9a979ed45be85d6094a174b107',
  ],
  [
    'Date 2023-11-14T22:13:20.123Z',
    () => new Date(1700000000123),
    'd903e9a2011a6553f10022187b',
    'dcd60841eeb39fa7475a6abcecd04d1c3c1fff67ab4ecf3f92d8e990dbdec533',
  ],
  [
    'Date -1ms',
    () => new Date(-1),
    'd903e9a20120221903e7',
    'aa0f32eb5962e8328c2c5f9cd27b8e7b3775ef7da8eb353cfad8a36c162cad10',
  ],
  [
    'Map {2=>"b", 1=>"a"}',
    () =>
      new Map<unknown, unknown>([
        [2, 'b'],
        [1, 'a'],
      ]),
    'd90103a2016161026162',
    '84430857247c878c78c72fb67eedc021d0a81a6d7c4176db32bae573f09b28cb',
  ],
  [
    'Map {"x"=>[1], 1=>{}}',
    () =>
      new Map<unknown, unknown>([
        ['x', [1]],
        [1, {}],
      ]),
    'd90103a201a061788101',
    'd966c4619bdcc5895f0fbfce8302750788e93228c352b81806f60607b18ca0ab',
  ],
  [
    'Set {3, 1, 2}',
    () => new Set([3, 1, 2]),
    'd9010283010203',
    '4525b79b528e7be155fef0f4e4d6394360755c050253bc1cbf6118a6785ab854',
  ],
  [
    'Set {"b", "a", 10}',
    () => new Set<unknown>(['b', 'a', 10]),
    'd90102830a61616162',
    'bc6771d976dd0b323d88230d956ca23ba282adcbf289407ca096da5b8fa7b4e5',
  ],
  [
    'ArrayBuffer [1,2]',
    () => new Uint8Array([1, 2]).buffer,
    'd81b82746d656d6f63616c6c3a4172726179427566666572420102',
    '27ef821de909b761c3658076d0f4b3af991b1f2a1505da56f62d232e8f3865b4',
  ],
  [
    'nested',
    () => ({ model: { layers: [64, 32], act: 'relu' }, seed: 42n, at: new Date(0), tags: new Set(['x']) }),
    null,
    '2792fd1d47a9e0ccb95d7ec44ce384ccf1e0ea656215c376c7ace1b084c8101b',
  ],
];

describe(`golden keys of ${KEY_FORMAT_VERSION}`, () => {
  test('the key format version is memocall-v2', () => {
    expect(KEY_FORMAT_VERSION).toBe('memocall-v2');
  });

  test.each(GOLDEN)('%s', (_label, make, expectedHex, expectedDigest) => {
    const bytes = encodeCanonical(make());
    if (expectedHex !== null) expect(hex(bytes)).toBe(expectedHex);
    expect(hex(sha256(bytes))).toBe(expectedDigest);
  });

  test('full readable argument keys', () => {
    expect(argsKey([]).key).toBe('LepoVifo.Uo0Adfeq6Y1vpXptPIOuSAqEaeZo17CvlomVrHE');
    expect(argsKey([30]).key).toBe('RaroBolo.jvZMj8L60QNp7lg7ymzUsdeHeBjdvHpl2pCeGbE');
    expect(argsKey([1, 'two', { three: 3 }]).key).toBe('BekiGoli.5B0NkClLRBJXJSI9jUL-5hklB0XZDS2-Us3ZoeI');
    expect(argsKey([{ a: 1, b: 'x' }]).key).toBe('KanaLopo.a16szRPhXXo5ytk_Kzqm2bAqCt-fd2jpe4aFEFA');
    expect(argsKey([{ b: 'x', a: 1 }, undefined]).key).toBe('KanaLopo.a16szRPhXXo5ytk_Kzqm2bAqCt-fd2jpe4aFEFA');
  });
});
