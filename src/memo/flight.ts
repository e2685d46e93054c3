import { abortErrorOf } from '../execute/call-signal.js';

/**
 * One computation of a memo URI in this process, shared by every identical concurrent call.
 * Each caller may give up on its own (its signal fires: it alone rejects); the computation itself
 * is aborted — lease released, child process stopped — only when every caller has given up.
 * A caller without a signal never gives up, so it keeps the computation alive; a computation
 * started by such a caller can therefore never be aborted, and runs without a signal at all
 * (on Node 20 each AbortSignal costs tens of microseconds: only cancellation's users pay).
 */
export class Flight {
  readonly promise: Promise<Uint8Array>;
  private readonly controller: AbortController | undefined;
  private waiting = 0;
  private settled = false;

  constructor(
    readonly memoUri: string,
    compute: (signal: AbortSignal | undefined) => Promise<Uint8Array>,
    private readonly onAbandoned: (flight: Flight) => void,
    abortable: boolean,
  ) {
    this.controller = abortable ? new AbortController() : undefined;
    this.promise = compute(this.controller?.signal).finally(() => {
      this.settled = true;
    });
    // Callers that gave up no longer await it: its rejection is nobody's unhandled rejection.
    this.promise.catch(() => undefined);
  }

  /**
   * Waits for the computation on behalf of one caller. A caller that gives up rejects at once if
   * others still wait; the last one rejects only once the computation has stopped and released
   * what it held (its lease, its child process), so nothing of the call outlives the rejection.
   */
  join(signal: AbortSignal | undefined): Promise<Uint8Array> {
    this.waiting++;
    if (!signal) return this.promise;
    return new Promise<Uint8Array>((resolve, reject) => {
      const onAbort = () => {
        const error = abortErrorOf(signal, this.memoUri);
        if (this.leave(signal))
          void this.promise.then(
            () => reject(error),
            () => reject(error),
          );
        else reject(error);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.promise.then(
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

  /** One caller gave up; true when it was the last, and the computation is now being stopped. */
  private leave(signal: AbortSignal): boolean {
    if (--this.waiting > 0 || this.settled || !this.controller) return false;
    // Nobody wants the value any more: stop the work, and let later callers start afresh.
    this.onAbandoned(this);
    this.controller.abort(abortErrorOf(signal, this.memoUri));
    return true;
  }
}
