// A caller that finds the call running elsewhere waits for that run's outcome, its error included.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { MemoizingRunner, RemoteError, useRunner } from '../../src/index.js';
import { finished, spawnTs, waitForLine } from '../support/child.js';
import { ObservedStore } from '../support/observed-store.js';
import { useTempDir } from '../support/temp-dir.js';

const tempDir = useTempDir();

test("a caller waiting on another process's run that throws gets its RemoteError (rerunErrors: true); the function ran once", async () => {
  const { dir, uri } = tempDir();
  const goFile = path.join(dir, 'go');
  const log = path.join(dir, 'executions.log');
  writeFileSync(log, '');

  const holder = spawnTs('test/fixtures/failing-holder.ts', [uri, goFile, log]);
  const holderDone = finished(holder);
  await waitForLine(holder, 'computing'); // it holds the lease now

  // This process sees the same directory through a test scheme, to notice when it starts waiting.
  let startedWaiting!: () => void;
  const waiting = new Promise<void>((resolve) => (startedWaiting = resolve));
  const { root } = ObservedStore.register('waitwatch', uri, {
    onPreconditionFailed: (u) => u.endsWith('/lease') && startedWaiting(),
  });
  const runner = new MemoizingRunner({ blobRoot: root, rerunErrors: true, waitInitialMs: 20, waitMaxMs: 100 });
  const fails = useRunner(
    runner,
    async (what: string): Promise<never> => {
      appendFileSync(log, `ran ${process.pid}\n`);
      throw new RangeError(`no ${what} here`);
    },
    { id: 'waiting/fails' },
  );

  const call = fails('x').then(
    () => undefined,
    (err: unknown) => err,
  );
  await waiting; // our call found the lease held by the child
  writeFileSync(goFile, ''); // now the child's run throws, writes `error` and releases
  const error = await call;
  const ended = await holderDone;
  expect(ended.stdout).toContain('threw no x here');

  expect(error).toBeInstanceOf(RemoteError);
  expect((error as RemoteError).message).toContain('no x here');
  expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([`ran ${holder.pid}`]);
}, 60_000);
