// In one process: identical concurrent calls share one promise (not merely one lease), and the
// in-memory shortcuts for repeated calls are keyed by the whole memo space (root, pipeline id,
// function id, logic key), never by the function alone.
import { expect, test } from 'vitest';
import { MemoizingRunner, useRunner } from '../../src/index.js';
import { ObservedStore } from '../support/observed-store.js';
import { useTempDir } from '../support/temp-dir.js';

const tempDir = useTempDir();

test('50 identical concurrent calls share one promise: one storage read, one execution', async () => {
  const { uri } = tempDir();
  const { store, root } = ObservedStore.register('countreads', uri);
  let runs = 0;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const slow = useRunner(
    new MemoizingRunner({ blobRoot: root, waitInitialMs: 20, waitMaxMs: 50 }),
    async (x: string) => {
      runs++;
      await gate; // every caller has called before the one run ends
      return x.toUpperCase();
    },
    { id: 'sharing/fifty' },
  );
  const calls = Array.from({ length: 50 }, () => slow('abc'));
  while (runs === 0) await new Promise((resolve) => setImmediate(resolve));
  release();
  expect(new Set(await Promise.all(calls))).toEqual(new Set(['ABC']));
  expect(runs).toBe(1);
  expect(store.readsOf('/result')).toBe(1); // the one computation's first look
  expect(store.readsOf('/lease')).toBe(0); // nobody else contended for the lease
});

type Setup = { first: () => (x: number) => Promise<string>; second: () => (x: number) => Promise<string> };

/** The same function and arguments, reached through two memo spaces of one process. */
const setups: Array<[string, (count: () => number) => Setup]> = [
  [
    'two pipeline ids',
    (count) => {
      const { uri } = tempDir();
      const a = new MemoizingRunner({ blobRoot: uri, pipelineId: 'pipeline-a' });
      const b = new MemoizingRunner({ blobRoot: uri, pipelineId: 'pipeline-b' });
      let current = a;
      const f = useRunner(
        () => current,
        async (x: number) => `${x} run ${count()}`,
        { id: 'spaces/by-pipeline' },
      );
      const through = (runner: MemoizingRunner) => () => {
        current = runner;
        return f;
      };
      return { first: through(a), second: through(b) };
    },
  ],
  [
    'two logic keys',
    (count) => {
      const runner = new MemoizingRunner({ blobRoot: tempDir().uri });
      const body = async (x: number) => `${x} run ${count()}`;
      const v1 = useRunner(runner, body, { id: 'spaces/by-logic', logicKey: 'v1' });
      const v2 = useRunner(runner, body, { id: 'spaces/by-logic', logicKey: 'v2' });
      return { first: () => v1, second: () => v2 };
    },
  ],
  [
    'two blob roots',
    (count) => {
      const a = new MemoizingRunner({ blobRoot: tempDir().uri });
      const b = new MemoizingRunner({ blobRoot: tempDir().uri });
      let current = a;
      const f = useRunner(
        () => current,
        async (x: number) => `${x} run ${count()}`,
        { id: 'spaces/by-root' },
      );
      const through = (runner: MemoizingRunner) => () => {
        current = runner;
        return f;
      };
      return { first: through(a), second: through(b) };
    },
  ],
];

test.each(setups)('one function, same arguments, %s: each memo space runs it once', async (_name, make) => {
  let runs = 0;
  const s = make(() => ++runs);
  expect(await s.first()(7)).toBe('7 run 1');
  expect(await s.first()(7)).toBe('7 run 1'); // a hit: the fast path of this process
  expect(await s.second()(7)).toBe('7 run 2'); // another memo space: not the first one's result
  expect(await s.second()(7)).toBe('7 run 2');
  expect(await s.first()(7)).toBe('7 run 1');
  expect(runs).toBe(2);
});
