import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, expectTypeOf, test, vi } from 'vitest';
import {
  KEY_FORMAT_VERSION,
  MemoizingRunner,
  RemoteError,
  SerializationError,
  lookupBlobStore,
  pipelineIdMask,
  useRunner,
  ConfigurationError,
  type Memoized,
} from '../../src/index.js';
import { useTempDir } from '../support/temp-dir.js';
import { asNewProcess } from '../support/fresh-process.js';

const tempDir = useTempDir();

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

test('raw is the original function, typed as written; an annotation without it still fits', async () => {
  const runner = new MemoizingRunner({ blobRoot: 'memory://raw-typing' });
  const original = async (n: number, label: string) => `${label}${n}`;
  const show = useRunner(runner, original, { id: 'typing/show' });
  expect(show.raw).toBe(original);
  expectTypeOf(show.raw).toEqualTypeOf<(n: number, label: string) => Promise<string>>();
  const sync = useRunner(runner, (n: number) => n * 2, { id: 'typing/double' });
  expectTypeOf(sync.raw).toEqualTypeOf<(n: number) => number>();
  expect(sync.raw(4)).toBe(8);
  const annotated: Memoized<[number, string], string> = show; // the README's annotation style
  expect(await annotated.raw(1, 'x')).toBe('x1');
});

describe('memo hits', () => {
  test('a second call with equal arguments returns the stored result without running the function', async () => {
    const { uri } = tempDir();
    const runner = new MemoizingRunner({ blobRoot: uri });
    let runs = 0;
    const add = useRunner(
      runner,
      async function add(a: number, b: number) {
        runs++;
        return a + b;
      },
      { id: 'hits/add' },
    );
    expect(await add(2, 3)).toBe(5);
    expect(await add(2, 3)).toBe(5);
    expect(runs).toBe(1);
    expect(await add(3, 2)).toBe(5);
    expect(runs).toBe(2);
  });

  test('a new runner (as a new process would) reads the result from storage', async () => {
    const { uri } = tempDir();
    let runs = 0;
    const body = async (x: { a: number; b: number[] }) => {
      runs++;
      return { sum: x.a + x.b.reduce((s, v) => s + v, 0), when: new Date(0), big: 2n ** 70n };
    };
    const first = useRunner(new MemoizingRunner({ blobRoot: uri }), body, { id: 'hits/sum' });
    const value = await first({ a: 1, b: [2, 3] });
    asNewProcess(); // nothing remembered in memory: the hit must come from storage
    const second = useRunner(new MemoizingRunner({ blobRoot: uri }), body, { id: 'hits/sum' });
    expect(await second({ b: [2, 3], a: 1 })).toEqual(value); // key order does not matter
    expect(value).toEqual({ sum: 6, when: new Date(0), big: 2n ** 70n });
    expect(runs).toBe(1);
  });

  test('results are immutable: mutating a returned value does not change the next hit', async () => {
    const { uri } = tempDir();
    const list = useRunner(
      new MemoizingRunner({ blobRoot: uri }),
      async (n: number) => Array.from({ length: n }, (_, i) => i),
      { id: 'hits/list' },
    );
    const a = await list(3);
    a.push(99);
    expect(await list(3)).toEqual([0, 1, 2]);
  });

  test('identical concurrent calls in one process share one execution', async () => {
    const { uri } = tempDir();
    let runs = 0;
    const slow = useRunner(
      new MemoizingRunner({ blobRoot: uri }),
      async (x: string) => {
        runs++;
        await new Promise((r) => setTimeout(r, 30));
        return x.toUpperCase();
      },
      { id: 'hits/slow' },
    );
    const results = await Promise.all(Array.from({ length: 20 }, () => slow('abc')));
    expect(new Set(results)).toEqual(new Set(['ABC']));
    expect(runs).toBe(1);
  });
});

describe('storage layout', () => {
  test('the memo URI and the files under it follow the documented layout', async () => {
    const { dir, uri } = tempDir();
    const runner = new MemoizingRunner({ blobRoot: uri, pipelineId: 'forecast/v2' });
    const double = useRunner(runner, async function double(x: number) {
      return x * 2;
    });
    expect(double.functionId).toBe('test/memo/memoize.test--double');
    const memoUri = await double.memoUri(21);
    expect(memoUri).toMatch(
      new RegExp(
        `^${uri}/${KEY_FORMAT_VERSION}/forecast~v2/test~memo~memoize\\.test--double/[A-Z][a-z]+[A-Z][a-z]+\\.[A-Za-z0-9_-]{39}$`,
      ),
    );
    expect(filesUnder(dir)).toEqual([]); // memoUri() computes and writes nothing
    await double(21);
    const memoDir = fileURLToPath(memoUri);
    const files = filesUnder(memoDir);
    expect(files.filter((f) => !f.startsWith('meta/'))).toEqual(['invocation', 'lease', 'result']);
    expect(files.filter((f) => f.startsWith('meta/'))).toHaveLength(1);
    expect(files.find((f) => f.startsWith('meta/'))).toMatch(/^meta\/\d{10}-[\w-]+\.json$/);
  });

  test('logicKey and transitive calls change the memo URI', async () => {
    const { uri } = tempDir();
    const runner = new MemoizingRunner({ blobRoot: uri });
    const leafV1 = useRunner(runner, async (x: number) => x, { id: 'calls/leaf', logicKey: 'v1' });
    const leafV2 = useRunner(runner, async (x: number) => x, { id: 'calls/leaf2', logicKey: 'v2' });
    // The same two callers, built over one leaf or the other: only the leaf's logic key differs.
    const chainOver = (leaf: typeof leafV1) => {
      const mid = useRunner(runner, async (x: number) => leaf(x), { id: 'calls/mid', calls: [leaf] });
      return useRunner(runner, async (x: number) => mid(x), { id: 'calls/top', calls: [mid] });
    };
    const topA = chainOver(leafV1);
    const topB = chainOver(leafV2);
    expect(await leafV1.memoUri(1)).toContain('/calls~leaf@v1/');
    const [a, b] = [await topA.memoUri(1), await topB.memoUri(1)];
    expect(a).toMatch(/\/calls~top\/calls-[\w-]{16}\//);
    expect(a).not.toBe(b); // the leaf two levels down changed its logic key
    expect(await topA(5)).toBe(5);
  });

  test('pipelineIdMask: the outermost mask wins', async () => {
    const { uri } = tempDir();
    const f = useRunner(new MemoizingRunner({ blobRoot: uri, pipelineId: 'base' }), async (x: number) => x, {
      id: 'mask/f',
    });
    expect(await f.memoUri(1)).toContain(`/${KEY_FORMAT_VERSION}/base/mask~f/`);
    const inner = await pipelineIdMask('outer', () => pipelineIdMask('inner', () => f.memoUri(1)));
    expect(inner).toContain(`/${KEY_FORMAT_VERSION}/outer/mask~f/`);
  });
});

describe('bad input', () => {
  test('an unencodable argument is rejected with its path before anything is written', async () => {
    const { dir, uri } = tempDir();
    let runs = 0;
    const fit = useRunner(new MemoizingRunner({ blobRoot: uri }), async (_rounds: number, _cfg: unknown) => ++runs, {
      id: 'bad/fit',
    });
    // biome-ignore lint/suspicious/noFocusedTests: `fit` is the memoized function under test, not a focused test
    const error = await fit(3, { model: { fit() {} } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SerializationError);
    expect((error as SerializationError).path).toBe('args[1].model.fit');
    expect((error as SerializationError).message).toContain('args[1].model.fit');
    expect(runs).toBe(0);
    expect(filesUnder(dir)).toEqual([]);
  });

  test('an unencodable result is stored and thrown as an error naming its path', async () => {
    const { uri } = tempDir();
    const f = useRunner(new MemoizingRunner({ blobRoot: uri }), async () => ({ handler: () => 1 }), {
      id: 'bad/result',
    });
    await expect(f()).rejects.toMatchObject({ name: 'SerializationError', path: 'result.handler' });
  });

  test('an anonymous function with no name to infer needs an explicit id', () => {
    const runner = new MemoizingRunner({ blobRoot: 'memory://anon' });
    const fns = [async () => 1];
    expect(() => useRunner(runner, fns[0]!)).toThrow(ConfigurationError);
  });

  test('ids that cannot be a path segment are refused at wrap time', () => {
    const runner = new MemoizingRunner({ blobRoot: 'memory://ids' });
    expect(() => useRunner(runner, async () => 1, { id: 'a b' })).toThrow(/not usable in a memo URI/);
    expect(() => useRunner(runner, async () => 1, { id: 'a//b' })).toThrow(/not usable in a memo URI/);
    expect(() => new MemoizingRunner({ pipelineId: '../x' })).toThrow(/not usable in a memo URI/);
  });
});

describe('errors', () => {
  class QuotaError extends Error {
    statusCode = 429;
    constructor(message: string, options?: { cause?: unknown }) {
      super(message, options);
      this.name = 'QuotaError';
    }
  }

  test('a thrown error reaches the caller as is; a later caller with rerunErrors:false gets it back from storage', async () => {
    const { uri } = tempDir();
    let runs = 0;
    const body = async (x: number) => {
      runs++;
      throw new QuotaError(`too many: ${x}`, { cause: new TypeError('inner cause') });
    };
    const first = useRunner(new MemoizingRunner({ blobRoot: uri }), body, { id: 'errors/quota' });
    const original = await first(1).catch((e: unknown) => e);
    expect(original).toBeInstanceOf(QuotaError);

    asNewProcess();
    const stored = useRunner(new MemoizingRunner({ blobRoot: uri, rerunErrors: false }), body, { id: 'errors/quota' });
    const remote = (await stored(1).catch((e: unknown) => e)) as RemoteError;
    expect(runs).toBe(1);
    expect(remote).toBeInstanceOf(RemoteError);
    expect(remote.name).toBe('QuotaError');
    expect(remote.message).toBe('too many: 1');
    expect(remote.remoteStack).toBe((original as Error).stack);
    expect(remote.props).toEqual({ statusCode: 429 });
    expect(remote.cause).toBeInstanceOf(RemoteError);
    expect((remote.cause as RemoteError).name).toBe('TypeError');
    expect((remote.cause as RemoteError).message).toBe('inner cause');
  });

  test('with rerunErrors (the default) a stored error is ignored and the call runs again', async () => {
    const { uri } = tempDir();
    let runs = 0;
    const flaky = async (x: number) => {
      runs++;
      if (runs === 1) throw new Error('transient');
      return x;
    };
    const f1 = useRunner(new MemoizingRunner({ blobRoot: uri }), flaky, { id: 'errors/flaky' });
    await expect(f1(4)).rejects.toThrow('transient');
    const f2 = useRunner(new MemoizingRunner({ blobRoot: uri }), flaky, { id: 'errors/flaky' });
    expect(await f2(4)).toBe(4);
    expect(runs).toBe(2);
    // Now the result is stored: even rerunErrors:false sees the result, not the old error.
    const f3 = useRunner(new MemoizingRunner({ blobRoot: uri, rerunErrors: false }), flaky, { id: 'errors/flaky' });
    expect(await f3(4)).toBe(4);
    expect(runs).toBe(2);
  });
});

describe('switches', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  test('MEMOCALL_OFF=1 calls the bare function and stores nothing', async () => {
    const { dir, uri } = tempDir();
    let runs = 0;
    const f = useRunner(new MemoizingRunner({ blobRoot: uri }), async (x: number) => ++runs + x, { id: 'off/f' });
    vi.stubEnv('MEMOCALL_OFF', '1');
    expect(await f(1)).toBe(2);
    expect(await f(1)).toBe(3);
    expect(filesUnder(dir)).toEqual([]);
    vi.unstubAllEnvs();
    await f(1);
    expect(filesUnder(dir).length).toBeGreaterThan(0);
  });
});

describe('recursion', () => {
  test('the documented form (a const arrow calling the const) memoizes every recursive call', async () => {
    const { dir, uri } = tempDir();
    const runner = new MemoizingRunner({ blobRoot: uri });
    let runs = 0;
    const fib: (n: number) => Promise<number> = useRunner(runner, async (n: number): Promise<number> => {
      runs++;
      return n < 2 ? n : (await fib(n - 1)) + (await fib(n - 2));
    });
    expect(await fib(10)).toBe(55);
    expect(runs).toBe(11);
    const results = filesUnder(dir).filter((f) => f.endsWith('/result'));
    expect(results).toHaveLength(11);
    expect(results[0]).toContain('/test~memo~memoize.test--fib/');
  });

  test('a named function expression that calls its own name triggers the recursion-trap warning', async () => {
    const warnings: Array<{ code?: string; message: string }> = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const runner = new MemoizingRunner({ blobRoot: 'memory://trap' });
      useRunner(
        runner,
        async function trapped(n: number): Promise<number> {
          return n < 1 ? 0 : trapped(n - 1);
        },
        { id: 'trap/trapped' },
      );
      useRunner(
        runner,
        async function notRecursive(n: number) {
          return n;
        },
        { id: 'trap/fine' },
      );
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    const traps = warnings.filter((w) => w.code === 'MEMOCALL_RECURSION_TRAP');
    expect(traps).toHaveLength(1);
    expect(traps[0]!.message).toContain('trap/trapped');
  });

  test('a call that waits for itself (same arguments inside its own body) fails instead of hanging', async () => {
    const runner = new MemoizingRunner({ blobRoot: 'memory://selfwait' });
    const loop: (n: number) => Promise<number> = useRunner(runner, async (n: number): Promise<number> => loop(n), {
      id: 'self/loop',
    });
    await expect(loop(1)).rejects.toThrow(/called itself with the same arguments/);
  });
});

describe('decorator form', () => {
  test('useRunner(runner) decorates static methods, and recursion through the class memoizes', async () => {
    const { uri } = tempDir();
    const runner = new MemoizingRunner({ blobRoot: uri });
    let runs = 0;
    class Pipeline {
      @useRunner(runner)
      static async fib(n: number): Promise<number> {
        runs++;
        return n < 2 ? n : (await Pipeline.fib(n - 1)) + (await Pipeline.fib(n - 2));
      }
    }
    expect(await Pipeline.fib(12)).toBe(144);
    expect(runs).toBe(13);
    expect((Pipeline.fib as unknown as { functionId: string }).functionId).toBe('test/memo/memoize.test--Pipeline.fib');
    const store = lookupBlobStore(uri);
    let results = 0;
    for await (const u of store.list(uri)) if (u.endsWith('/result')) results++;
    expect(results).toBe(13);
  });
});

describe('user classes', () => {
  class Money {
    constructor(
      readonly cents: bigint,
      readonly currency: string,
    ) {}
    add(other: Money): Money {
      return new Money(this.cents + other.cents, this.currency);
    }
  }

  test('a class with a registered codec is keyed by its encoded value and comes back as an instance', async () => {
    const { registerCodec } = await import('../../src/index.js');
    registerCodec(
      'test:Money',
      Money,
      (m) => ({ cents: m.cents, currency: m.currency }),
      (p: { cents: bigint; currency: string }) => new Money(p.cents, p.currency),
    );
    const { uri } = tempDir();
    let runs = 0;
    const body = async (items: Money[]) => {
      runs++;
      return items.reduce((a, b) => a.add(b));
    };
    const total = useRunner(new MemoizingRunner({ blobRoot: uri }), body, { id: 'classes/total' });
    const sum = await total([new Money(150n, 'EUR'), new Money(250n, 'EUR')]);
    expect(sum).toBeInstanceOf(Money);
    expect(sum.cents).toBe(400n);
    // Another runner on the same root: the stored encoding decodes to an instance again.
    const again = useRunner(new MemoizingRunner({ blobRoot: uri }), body, { id: 'classes/total' });
    const fromStorage = await again([new Money(150n, 'EUR'), new Money(250n, 'EUR')]);
    expect(fromStorage).toBeInstanceOf(Money);
    expect(fromStorage.cents).toBe(400n);
    expect(runs).toBe(1);
  });

  test('a class instance without a codec is refused with its path', async () => {
    class Model {
      weights = [1, 2];
    }
    const f = useRunner(new MemoizingRunner({ blobRoot: 'memory://classes' }), async (_cfg: { model: Model }) => 1, {
      id: 'classes/model',
    });
    await expect(f({ model: new Model() })).rejects.toMatchObject({
      name: 'SerializationError',
      path: 'args[0].model',
    });
  });
});
