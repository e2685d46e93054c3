// The paths and labels of encoding errors the main suite does not pin (Map keys of every type,
// Sets, codec payloads, WeakRef, anonymous classes, Array subclasses, Maps and Sets that change
// size), and the argument checks of registerCodec with their exact messages. A user reads these
// to find the offending value in a large argument.
import { describe, expect, test } from 'vitest';
import { encodeCanonical } from '../../src/core/canonical-encode.js';
import { decodeCanonical } from '../../src/core/canonical-decode.js';
import {
  lookupCodecByClass,
  lookupCodecByName,
  registerBuiltinCodec,
  registerCodec,
} from '../../src/core/codec-registry.js';
import { MemocallError } from '../../src/core/memocall-error.js';
import { SerializationError } from '../../src/core/serialization-error.js';

function errorOf(value: unknown, rootPath = 'args'): SerializationError {
  try {
    encodeCanonical(value, rootPath);
  } catch (error) {
    expect(error).toBeInstanceOf(SerializationError);
    return error as SerializationError;
  }
  throw new Error('expected a SerializationError');
}

function registryError(run: () => void): MemocallError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(MemocallError);
    return error as MemocallError;
  }
  throw new Error('expected a MemocallError');
}

const fn = () => 1;

describe('the path of a bad Map value names its key', () => {
  test.each<[string, unknown, string]>([
    ['a bigint key', 5n, 'args.get(5n)'],
    ['a negative bigint key', -12n, 'args.get(-12n)'],
    ['true', true, 'args.get(true)'],
    ['false', false, 'args.get(false)'],
    ['undefined', undefined, 'args.get(undefined)'],
    ['null', null, 'args.get(null)'],
    ['-0', -0, 'args.get(0)'],
    ['a float', 1.5, 'args.get(1.5)'],
    ['a string of 40 characters', 'x'.repeat(40), `args.get("${'x'.repeat(40)}")`],
    ['a string of 41 characters', 'x'.repeat(41), 'args.get(<map key 0>)'],
    ['a string with quotes', 'a"b', 'args.get("a\\"b")'],
    ['an array key', [1], 'args.get(<map key 0>)'],
    ['a Date key', new Date(0), 'args.get(<map key 0>)'],
  ])('%s', (_what, key, path) => {
    const e = errorOf(new Map([[key, fn]]));
    expect(e.path).toBe(path);
    expect(e.message).toBe(`${path} is a function`);
  });

  test('the position counts entries in insertion order', () => {
    const m = new Map<unknown, unknown>([
      ['a', 1],
      [{}, 2],
      [[], fn],
    ]);
    expect(errorOf(m).path).toBe('args.get(<map key 2>)');
    expect(
      errorOf(
        new Map<unknown, unknown>([
          [1, 1],
          [Symbol('k'), 2],
        ]),
      ).message,
    ).toBe('args.<map key 1> is a symbol');
  });

  test('nested containers build the whole path', () => {
    const value = { 'odd key': [new Set([1, { deep: new Map([[7n, [0, fn]]]) }])] };
    expect(errorOf(value).path).toBe('args["odd key"][0].<set element 1>.deep.get(7n)[1]');
    expect(errorOf([{ $ok_1: fn }]).path).toBe('args[0].$ok_1');
    expect(errorOf([{ '1a': fn }]).path).toBe('args[0]["1a"]');
    expect(errorOf([{ '': fn }]).path).toBe('args[0][""]');
  });
});

describe('unsupported objects', () => {
  test.each<[string, () => unknown, string]>([
    ['a WeakRef', () => new WeakRef({}), 'is a WeakRef'],
    [
      'an anonymous class',
      () => new (class {})(),
      'is an instance of class (anonymous) with no registered codec (use registerCodec)',
    ],
    ['a boxed boolean', () => Object(true), 'is a boxed Boolean (pass the primitive instead)'],
    ['a boxed bigint', () => Object(1n), 'is a boxed BigInt (pass the primitive instead)'],
    ['a boxed symbol', () => Object(Symbol('s')), 'is a boxed Symbol (pass the primitive instead)'],
    [
      'an Array subclass',
      () => new (class Row extends Array {})(),
      'is an instance of class Row with no registered codec (use registerCodec)',
    ],
    [
      'a Set subclass',
      () => new (class Bag extends Set {})(),
      'is an instance of class Bag with no registered codec (use registerCodec)',
    ],
    [
      'a Date subclass',
      () => new (class When extends Date {})(0),
      'is an instance of class When with no registered codec (use registerCodec)',
    ],
    ['an Error of a custom class', () => new (class Oops extends Error {})('x'), 'is an Error (Oops)'],
    [
      'a prototype whose constructor is not a function',
      () => Object.create(Object.create(null, { constructor: { value: 42 } })),
      'is an object with a non-plain prototype and no registered codec (use registerCodec)',
    ],
    [
      'a prototype with a constructor getter (never run)',
      () =>
        Object.create(
          Object.defineProperty({}, 'constructor', {
            get() {
              throw new Error('getter ran');
            },
          }),
        ),
      'is an object with a non-plain prototype and no registered codec (use registerCodec)',
    ],
  ])('%s', (_what, make, problem) => {
    expect(errorOf([make()]).message).toBe(`args[0] ${problem}`);
  });

  test('a Map or Set that changes size while being encoded is refused', () => {
    const m = new Map<unknown, unknown>([['a', 1]]);
    const grower = {
      get x() {
        m.set(`k${m.size}`, 1);
        return 1;
      },
    };
    m.set('b', grower);
    expect(errorOf(m).message).toBe('args changed size while being encoded');
    const s = new Set<unknown>();
    s.add({
      get x() {
        s.add('added while encoding');
        return 1;
      },
    });
    s.add(2);
    expect(errorOf(s).message).toBe('args changed size while being encoded');
  });

  test('two equal Set elements are named by their positions, smaller first', () => {
    expect(errorOf(new Set([[1], 'x', [1]])).message).toBe(
      'args has two elements with the same encoding (<set element 0> and <set element 2>)',
    );
    expect(
      errorOf(
        new Map<unknown, unknown>([
          [[2], 1],
          ['x', 2],
          [[2], 3],
        ]),
      ).message,
    ).toBe('args has two keys with the same encoding (<map key 0> and <map key 2>)');
  });

  test('an error in a codec payload is reported under <name payload>, after the codec name', () => {
    class Boxed {
      constructor(readonly inner: unknown) {}
    }
    registerCodec(
      'test-paths:Boxed',
      Boxed,
      (b) => ({ inner: b.inner }),
      (p: { inner: unknown }) => new Boxed(p.inner),
    );
    expect(errorOf([new Boxed([0, fn])]).path).toBe('args[0].<test-paths:Boxed payload>.inner[1]');
    // A codec name outside ASCII is written as UTF-8 text like any string.
    class Ünï {}
    registerCodec(
      'test-paths:Ünï',
      Ünï,
      () => 1,
      () => new Ünï(),
    );
    const bytes = encodeCanonical(new Ünï());
    expect(Buffer.from(bytes).includes(Buffer.from('test-paths:Ünï', 'utf8'))).toBe(true);
    expect(decodeCanonical(bytes)).toBeInstanceOf(Ünï);
  });

  test('a codec that throws a non-Error is reported with its value, and the cause is kept', () => {
    class Bad {}
    registerCodec(
      'test-paths:Bad',
      Bad,
      () => {
        throw 'plain string';
      },
      () => new Bad(),
    );
    const e = errorOf([new Bad()]);
    expect(e.message).toBe('args[0] could not be encoded by codec "test-paths:Bad": plain string');
    expect((e as Error & { cause?: unknown }).cause).toBe('plain string');
    class Nullish {}
    registerCodec(
      'test-paths:Nullish',
      Nullish,
      () => {
        throw null;
      },
      () => new Nullish(),
    );
    expect(errorOf([new Nullish()]).message).toBe('args[0] could not be encoded by codec "test-paths:Nullish": null');
    const descriptor = Object.getOwnPropertyDescriptor(errorOf([new Bad()]), 'cause')!;
    expect(descriptor.writable && descriptor.configurable).toBe(true);
  });

  test('after an error in a nested container, the next encoding is not affected', () => {
    errorOf({ a: [new Map([[1, new Set([fn])]])] });
    expect(Buffer.from(encodeCanonical({ a: [1] })).toString('hex')).toBe('a1616181' + '01');
  });
});

describe('registerCodec argument checks', () => {
  class C {}
  const id = (v: unknown) => v as never;

  test('each bad argument has its own message and code', () => {
    const cases: Array<[() => void, string]> = [
      [() => registerCodec('', C, id, id), 'codec name must be a non-empty string'],
      [() => registerCodec(7 as never, C, id, id), 'codec name must be a non-empty string'],
      [() => registerCodec('test-args:a', {} as never, id, id), 'codec "test-args:a": cls must be a class'],
      [() => registerCodec('test-args:b', (() => 1) as never, id, id), 'codec "test-args:b": cls must be a class'],
      [
        () => registerCodec('test-args:c', Object.assign(function f() {}, { prototype: null }) as never, id, id),
        'codec "test-args:c": cls must be a class',
      ],
      [
        () => registerCodec('test-args:d', C, 1 as never, id),
        'codec "test-args:d": encode and decode must be functions',
      ],
      [
        () => registerCodec('test-args:e', C, id, 'x' as never),
        'codec "test-args:e": encode and decode must be functions',
      ],
      [
        () => registerCodec('test-args:f', Map, id, id),
        'codec "test-args:f": Map is encoded natively by memocall and cannot have a codec',
      ],
      [
        () => registerCodec('memocall:Mine', C, id, id),
        'codec name "memocall:Mine" is reserved: names starting with "memocall:" belong to memocall',
      ],
      [
        () => registerBuiltinCodec('not-reserved', C, id, id),
        'built-in codec name "not-reserved" must start with "memocall:"',
      ],
    ];
    for (const [run, message] of cases) {
      const e = registryError(run);
      expect(e.message).toBe(message);
      expect(e.code).toBe('MEMOCALL_CODEC');
    }
    // None of them registered anything.
    expect(lookupCodecByClass(C)).toBeUndefined();
    for (const name of ['test-args:a', 'test-args:d', 'test-args:f', 'memocall:Mine', 'not-reserved'])
      expect(lookupCodecByName(name)).toBeUndefined();
    expect(lookupCodecByClass(Map)).toBeUndefined();
  });

  test('a name or a class taken by another registration is refused, naming the other one', () => {
    class First {}
    class Second {}
    registerCodec('test-args:first', First, id, id);
    expect(registryError(() => registerCodec('test-args:first', Second, id, id)).message).toBe(
      'codec name "test-args:first" is already registered for class First',
    );
    expect(registryError(() => registerCodec('test-args:other', First, id, id)).message).toBe(
      'class First already has a codec named "test-args:first"',
    );
    const Anonymous = (() => class {})();
    registerCodec('test-args:anon', Anonymous, id, id);
    expect(registryError(() => registerCodec('test-args:anon', Second, id, id)).message).toBe(
      'codec name "test-args:anon" is already registered for class (anonymous)',
    );
    expect(registryError(() => registerCodec('test-args:anon2', Anonymous, id, id)).message).toBe(
      'class (anonymous) already has a codec named "test-args:anon"',
    );
    // A name with "memocall:" elsewhere than at the start is the user's.
    class Late {}
    registerCodec('mine-memocall:Late', Late, id, id);
    expect(lookupCodecByName('mine-memocall:Late')?.cls).toBe(Late);
    class Builtin {}
    registerBuiltinCodec('memocall:test-Builtin', Builtin, id, id);
    expect(lookupCodecByClass(Builtin)?.name).toBe('memocall:test-Builtin');
  });

  test('the built-in ArrayBuffer and DataView codecs refuse a payload that is not bytes, and copy it', () => {
    const buffer = lookupCodecByName('memocall:ArrayBuffer')!;
    const view = lookupCodecByName('memocall:DataView')!;
    for (const [codec, name] of [
      [buffer, 'memocall:ArrayBuffer'],
      [view, 'memocall:DataView'],
    ] as const) {
      const e = registryError(() => codec.decode('not bytes'));
      expect(e.code).toBe('MEMOCALL_DECODE');
      expect(e.message).toBe(`codec "${name}": payload is not a byte string`);
    }
    const payload = new Uint8Array([1, 2, 3, 4]).subarray(1, 3);
    const decoded = buffer.decode(payload) as ArrayBuffer;
    expect(decoded.byteLength).toBe(2); // exactly its own bytes, not the payload's whole buffer
    expect([...new Uint8Array(decoded)]).toEqual([2, 3]);
    const dv = view.decode(payload) as DataView;
    expect(dv.byteLength).toBe(2);
    expect(dv.buffer).not.toBe(payload.buffer);
  });
});
