import { performance } from 'node:perf_hooks';
import { leaseClockAllowanceMs } from '../protocol/lease-record.js';

/**
 * A waiter's own judgement of a lease it keeps finding held: how long, on this process's
 * monotonic clock, the very same version (etag) has been seen unchanged. A live holder rewrites
 * the lease every refresh period, changing its etag; a version that stays unchanged for longer
 * than the waiter's own TTL plus the clock allowance has no refresh evidence, whatever its
 * heartbeat claims (a holder whose clock runs far ahead, or a planted record), and may be taken
 * over. So no lease can hold a caller longer than that without someone rewriting it.
 *
 * Holders refresh every half TTL by default: callers of one memo URI with TTLs within a factor of
 * two of each other never take over each other's live leases this way.
 */
export class LeaseWatch {
  readonly budgetMs: number;
  #etag: string | undefined;
  #firstSeenAt = 0;

  constructor(ownTtlMs: number) {
    this.budgetMs = ownTtlMs + leaseClockAllowanceMs(ownTtlMs);
  }

  /** Notes a sighting of `etag`; true once that version has been unchanged for the whole budget. */
  exhausted(etag: string): boolean {
    const now = performance.now();
    if (etag !== this.#etag) {
      this.#etag = etag;
      this.#firstSeenAt = now;
      return false;
    }
    return now - this.#firstSeenAt > this.budgetMs;
  }
}
