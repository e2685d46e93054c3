// Memoized functions run by queue workers (`memocall worker`, started by the tests from source
// through tsx). The caller's runner is set by the test (`useQueueTestRunner`); a worker imports
// this module only to find the functions, and its nested calls use a runner built from the
// environment it was started with:
//   MEMOCALL_TEST_LOG   a file each execution appends `<name> <arg> <pid>` to
//   MEMOCALL_TEST_QUEUE the Redis URL of the queue (nested calls of the worker go through it)
//   MEMOCALL_TEST_GATES a directory: `gated` waits for a file named after its process id there
import { appendFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoizingRunner, queue, useRunner } from '../../../src/index.js';

let configured: MemoizingRunner | undefined;

export function useQueueTestRunner(runner: MemoizingRunner): void {
  configured = runner;
}

const runner = () =>
  (configured ??= new MemoizingRunner({
    blobRoot: process.env.MEMOCALL_TEST_ROOT ?? 'memory://queue-functions',
    shim: process.env.MEMOCALL_TEST_QUEUE ? queue({ connection: process.env.MEMOCALL_TEST_QUEUE }) : undefined,
  }));

function logExecution(name: string, arg: unknown): void {
  const log = process.env.MEMOCALL_TEST_LOG;
  if (log) appendFileSync(log, `${name} ${JSON.stringify(arg)} ${process.pid}\n`);
}

export const cube = useRunner(runner, async (x: number, ms?: number) => {
  logExecution('cube', x);
  if (ms) await sleep(ms);
  return { cubed: x ** 3, pid: process.pid };
});

/** A nested memoized call: in a worker it runs in that worker (queue({ nested: 'in-worker' })). */
export const cubePlusOne = useRunner(runner, async (x: number) => {
  logExecution('cubePlusOne', x);
  const { cubed, pid } = await cube(x);
  return { value: cubed + 1, pid, outerPid: process.pid };
});

export class CapacityError extends Error {
  constructor(
    message: string,
    readonly capacity: number,
  ) {
    super(message);
    this.name = 'CapacityError';
  }
}

export const overload = useRunner(runner, async (what: string): Promise<number> => {
  logExecution('overload', what);
  throw new CapacityError(`no capacity for ${what}`, 3);
});

/** Prints `started <pid>` and sleeps: the tests kill or abort meanwhile. */
export const nap = useRunner(runner, async (ms: number, tag: string) => {
  logExecution('nap', tag);
  await sleep(ms);
  return `napped ${ms} in ${process.pid}`;
});

/**
 * Logs its start, then waits until `$MEMOCALL_TEST_GATES/<pid>` exists: the test decides when
 * the run in each process may finish.
 */
export const gated = useRunner(runner, async (tag: string) => {
  logExecution('gated', tag);
  const gate = path.join(process.env.MEMOCALL_TEST_GATES ?? '.', String(process.pid));
  while (!existsSync(gate)) await sleep(25);
  return { tag, pid: process.pid };
});
