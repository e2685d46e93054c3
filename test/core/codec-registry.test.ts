import { describe, expect, test } from 'vitest';
import { decodeCanonical } from '../../src/core/canonical-decode.js';
import { encodeCanonical } from '../../src/core/canonical-encode.js';
import {
  lookupCodecByClass,
  lookupCodecByName,
  registerBuiltinCodec,
  registerCodec,
} from '../../src/core/codec-registry.js';
import { MemocallError } from '../../src/core/memocall-error.js';
import { SerializationError } from '../../src/core/serialization-error.js';

const identity = (v: unknown): unknown => v;

describe('registerCodec', () => {
  test('registers a class under a name, found both ways', () => {
    class Vec {
      constructor(readonly xs: number[]) {}
    }
    const encode = (v: Vec): unknown => v.xs;
    const decode = (xs: number[]): Vec => new Vec(xs);
    registerCodec('test-registry:Vec', Vec, encode, decode);
    const byClass = lookupCodecByClass(Vec);
    expect(byClass?.name).toBe('test-registry:Vec');
    expect(byClass?.encode).toBe(encode);
    expect(lookupCodecByName('test-registry:Vec')).toBe(byClass);
    const back = decodeCanonical(encodeCanonical(new Vec([1, 2]))) as Vec;
    expect(back).toBeInstanceOf(Vec);
    expect(back.xs).toEqual([1, 2]);
  });

  test('re-registering the same name with the same class is accepted and replaces the functions', () => {
    class Same {}
    registerCodec(
      'test-registry:Same',
      Same,
      () => 1,
      () => new Same(),
    );
    const encode2 = (): unknown => 2;
    expect(() => registerCodec('test-registry:Same', Same, encode2, () => new Same())).not.toThrow();
    expect(lookupCodecByClass(Same)?.encode).toBe(encode2);
    expect(encodeCanonical(new Same()).at(-1)).toBe(2);
  });

  test('a name already used by another class is refused', () => {
    class First {}
    class Second {}
    registerCodec('test-registry:Taken', First, identity, () => new First());
    expect(() => registerCodec('test-registry:Taken', Second, identity, () => new Second())).toThrow(
      'codec name "test-registry:Taken" is already registered for class First',
    );
    expect(lookupCodecByName('test-registry:Taken')?.cls).toBe(First);
  });

  test('a class already registered under another name is refused', () => {
    class Twice {}
    registerCodec('test-registry:Twice1', Twice, identity, () => new Twice());
    expect(() => registerCodec('test-registry:Twice2', Twice, identity, () => new Twice())).toThrow(
      'class Twice already has a codec named "test-registry:Twice1"',
    );
  });

  test('names starting with memocall: are reserved for the library', () => {
    class Mine {}
    expect(() => registerCodec('memocall:Mine', Mine, identity, () => new Mine())).toThrow(MemocallError);
    expect(() => registerCodec('memocall:Mine', Mine, identity, () => new Mine())).toThrow(/reserved/);
    expect(lookupCodecByName('memocall:Mine')).toBeUndefined();
    registerBuiltinCodec(
      'memocall:test-Mine',
      Mine,
      () => 'm',
      () => new Mine(),
    );
    expect(decodeCanonical(encodeCanonical(new Mine()))).toBeInstanceOf(Mine);
    expect(() => registerBuiltinCodec('not-reserved', Mine, identity, () => new Mine())).toThrow(/must start with/);
  });

  test('classes memocall encodes natively cannot get a codec', () => {
    for (const cls of [Object, Array, Map, Set, Date, Uint8Array, Buffer, Float32Array]) {
      expect(() => registerCodec(`test-registry:${cls.name}`, cls as never, identity, identity)).toThrow(
        /is encoded natively/,
      );
    }
  });

  test('invalid arguments are refused', () => {
    class C {}
    expect(() => registerCodec('', C, identity, identity)).toThrow(/non-empty/);
    expect(() => registerCodec('test-registry:bad-cls', {} as never, identity, identity)).toThrow(/must be a class/);
    expect(() => registerCodec('test-registry:bad-fn', C, 1 as never, identity)).toThrow(/must be functions/);
  });

  test('exact class match: a subclass without its own codec is refused, not encoded as its parent', () => {
    class Animal {
      constructor(readonly name: string) {}
    }
    class Dog extends Animal {}
    registerCodec(
      'test-registry:Animal',
      Animal,
      (a) => a.name,
      (n: string) => new Animal(n),
    );
    expect(() => encodeCanonical([new Dog('rex')], 'args')).toThrow(
      new SerializationError('args[0]', 'is an instance of class Dog with no registered codec (use registerCodec)'),
    );
    registerCodec(
      'test-registry:Dog',
      Dog,
      (d) => d.name,
      (n: string) => new Dog(n),
    );
    expect(decodeCanonical(encodeCanonical(new Dog('rex')))).toBeInstanceOf(Dog);
    expect(encodeCanonical(new Dog('rex'))).not.toEqual(encodeCanonical(new Animal('rex')));
  });

  test('an Error subclass can be registered (registry is consulted before refusing Errors)', () => {
    class HttpError extends Error {
      constructor(readonly status: number) {
        super(`HTTP ${status}`);
      }
    }
    registerCodec(
      'test-registry:HttpError',
      HttpError,
      (e) => e.status,
      (s: number) => new HttpError(s),
    );
    const back = decodeCanonical(encodeCanonical(new HttpError(404))) as HttpError;
    expect(back).toBeInstanceOf(HttpError);
    expect(back.status).toBe(404);
  });

  test('abstract classes can be named (only the prototype is used)', () => {
    abstract class Shape {
      abstract area(): number;
    }
    class Square extends Shape {
      area(): number {
        return 1;
      }
    }
    registerCodec<Shape>(
      'test-registry:Shape',
      Shape,
      () => 'shape',
      () => new Square(),
    );
    expect(lookupCodecByClass(Shape)?.name).toBe('test-registry:Shape');
    expect(lookupCodecByClass(Square)).toBeUndefined();
  });

  test('the built-in ArrayBuffer and DataView codecs are registered', () => {
    expect(lookupCodecByClass(ArrayBuffer)?.name).toBe('memocall:ArrayBuffer');
    expect(lookupCodecByClass(DataView)?.name).toBe('memocall:DataView');
    expect(() => registerCodec('test-registry:AB', ArrayBuffer, identity, identity)).toThrow(/already has a codec/);
  });
});
