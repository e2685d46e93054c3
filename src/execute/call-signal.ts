import { AsyncLocalStorage } from 'node:async_hooks';
import { CallAbortedError } from './errors.js';

/**
 * Cancellation of memoized calls. A memoized function keeps the original's parameters, so there
 * is no place for an AbortSignal argument: the signal travels with the async context instead.
 *
 *   await withSignal(AbortSignal.timeout(60_000), () => train(3, data));
 *
 * Every memoized call started inside `fn` (directly or deeper in its async work) is aborted when
 * `signal` fires: it rejects with a `CallAbortedError` (`name: 'AbortError'`), stops waiting for
 * another holder, and releases what it holds (its lease, its child process).
 */
const current = new AsyncLocalStorage<AbortSignal>();

/** Runs `fn` with `signal` applying to every memoized call inside it (together with any enclosing one). */
export function withSignal<T>(signal: AbortSignal, fn: () => T): T {
  return current.run(combineSignals(current.getStore(), signal)!, fn);
}

/**
 * Runs `fn` with exactly `signal` as the context's signal (an in-process invocation: its nested
 * calls belong to the computation, not to whichever caller happened to start it).
 */
export function withComputationSignal<T>(signal: AbortSignal, fn: () => T): T {
  return current.run(signal, fn);
}

/** The signal set by the enclosing `withSignal`, if any. */
export function contextSignal(): AbortSignal | undefined {
  return current.getStore();
}

/** One signal that fires when any of the given ones does (undefined when there are none). */
export function combineSignals(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (!a) return b;
  if (!b || a === b) return a;
  return AbortSignal.any([a, b]);
}

export interface LinkedSignal {
  /** Undefined when no signal was given. */
  signal: AbortSignal | undefined;
  /** Detaches from the sources (they may live long: a runner's signal). */
  dispose(): void;
}

const NOTHING_TO_DISPOSE = () => undefined;

/**
 * Like `AbortSignal.any`, for the runner's hot path: that costs about 30 µs per call on Node 20
 * (weak references, a finalization registry), this a few listeners, removed by `dispose()`.
 */
export function linkSignals(a: AbortSignal | undefined, b: AbortSignal | undefined): LinkedSignal {
  if (!a || !b || a === b) return { signal: a ?? b, dispose: NOTHING_TO_DISPOSE };
  if (a.aborted) return { signal: a, dispose: NOTHING_TO_DISPOSE };
  if (b.aborted) return { signal: b, dispose: NOTHING_TO_DISPOSE };
  const linked = new AbortController();
  const fromA = () => linked.abort(a.reason);
  const fromB = () => linked.abort(b.reason);
  a.addEventListener('abort', fromA, { once: true });
  b.addEventListener('abort', fromB, { once: true });
  return {
    signal: linked.signal,
    dispose: () => {
      a.removeEventListener('abort', fromA);
      b.removeEventListener('abort', fromB);
    },
  };
}

export function abortErrorOf(signal: AbortSignal, memoUri?: string): CallAbortedError {
  const reason: unknown = signal.reason;
  return reason instanceof CallAbortedError ? reason : new CallAbortedError(reason, memoUri);
}

export function throwIfAborted(signal: AbortSignal | undefined, memoUri?: string): void {
  if (signal?.aborted) throw abortErrorOf(signal, memoUri);
}

/**
 * `promise`, or a CallAbortedError as soon as `signal` fires, whichever comes first. The listener
 * is removed when the promise settles (no leak on long-lived signals).
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined, memoUri?: string): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(abortErrorOf(signal, memoUri));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortErrorOf(signal, memoUri));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
