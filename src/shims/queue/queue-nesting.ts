import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Whether the current code runs inside a job of a queue worker. A memoized call made there
 * (a nested call) must not wait for a worker slot while holding one: with every slot held by a
 * waiting parent, nothing could run (a deadlock). The queue shim runs such calls in the worker
 * itself unless told otherwise (`queue({ nested: 'enqueue' })`).
 */
const insideJob = new AsyncLocalStorage<true>();

export function runAsQueueJob<T>(fn: () => T): T {
  return insideJob.run(true, fn);
}

export function insideQueueJob(): boolean {
  return insideJob.getStore() === true;
}
