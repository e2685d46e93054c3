import { abortErrorOf } from '../execute/call-signal.js';
import { isTerminating, onTermination, stoppedByTermination } from '../execute/termination.js';
import type { ShimSlots } from './shim.js';
import { ConfigurationError } from '../core/configuration-error.js';

/**
 * At most `limit` holders at once, first come first served. A waiter whose signal fires leaves
 * the queue. Freeing is idempotent, so every exit path can free without double counting.
 * After a terminating signal (SIGINT, SIGTERM, SIGHUP) no slot is granted any more: queued work
 * never starts (see termination.ts).
 */
export class ConcurrencyLimit implements ShimSlots {
  private active = 0;
  private readonly queue: Array<{ grant: () => void; stop: () => void }> = [];
  private terminationHooked = false;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new ConfigurationError(`concurrency must be a positive integer, got ${limit}`);
  }

  get running(): number {
    return this.active;
  }

  get waiting(): number {
    return this.queue.length;
  }

  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(abortErrorOf(signal));
    if (isTerminating()) return stoppedByTermination();
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve(this.freer());
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.freer());
        },
        stop: () => {
          signal?.removeEventListener('abort', onAbort);
          stoppedByTermination().catch(reject);
        },
      };
      const onAbort = () => {
        const at = this.queue.indexOf(entry);
        if (at >= 0) this.queue.splice(at, 1);
        reject(abortErrorOf(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(entry);
      this.stopQueueOnTermination();
    });
  }

  private stopQueueOnTermination(): void {
    if (this.terminationHooked) return;
    this.terminationHooked = true;
    onTermination(() => {
      for (const entry of this.queue.splice(0)) entry.stop();
    });
  }

  private freer(): () => void {
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      const next = isTerminating() ? undefined : this.queue.shift();
      // The slot passes straight to the next waiter: `active` is unchanged.
      if (next) next.grant();
      else this.active--;
    };
  }
}
