import type { Shim, ShimRequest } from '../../src/index.js';

/**
 * A shim that runs nothing: it parks each invocation (lease held, invocation written) until the
 * test has run the remote entry itself and calls `finish()`. Lets a test start `memocall run`
 * by hand, with the writer id a real caller would pass.
 */
export function parkingShim() {
  const waiting: Array<(parked: Parked) => void> = [];
  const parkedQueue: Parked[] = [];
  const shim: Shim = (request, ctx) =>
    new Promise<void>((resolve) => {
      const parked: Parked = {
        request,
        argv: [...request.argv],
        memoUri: request.memoUri,
        writerId: request.writerId,
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
  /** What the shim was given. */
  request: ShimRequest;
  /** `memocall run`'s command line for it. */
  argv: string[];
  memoUri: string;
  writerId: string;
  signal: AbortSignal | undefined;
  /** Lets the caller go on: it reads the outcome from storage. */
  finish(): void;
}
