import type { Shim } from '../../src/index.js';

/**
 * A shim that runs nothing: it parks each invocation (lease held, invocation written) until the
 * test has run the remote entry itself and calls `finish()`. Lets a test start `memocall run`
 * by hand, with the writer id a real caller would pass.
 */
export function parkingShim() {
  const waiting: Array<(parked: Parked) => void> = [];
  const parkedQueue: Parked[] = [];
  const shim: Shim = (argv, ctx) =>
    new Promise<void>((resolve) => {
      const parked: Parked = {
        argv,
        memoUri: ctx.memoUri,
        writerId: argv.find((a) => a.startsWith('--writer-id='))!.slice('--writer-id='.length),
        signal: ctx.signal,
        finish: resolve,
      };
      const taker = waiting.shift();
      if (taker) taker(parked);
      else parkedQueue.push(parked);
    });
  return {
    shim,
    /** The next parked invocation (waits for one). */
    next(): Promise<Parked> {
      const ready = parkedQueue.shift();
      return ready ? Promise.resolve(ready) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

export interface Parked {
  argv: string[];
  memoUri: string;
  writerId: string;
  signal: AbortSignal | undefined;
  /** Lets the caller go on: it reads the outcome from storage. */
  finish(): void;
}
