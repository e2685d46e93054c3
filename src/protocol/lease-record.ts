import { CorruptRecordError } from './corrupt-record.js';
import { describeValue, firstProblem, integerField, isPlainRecord, stringField } from './record-fields.js';

/** The JSON kept in `<memoUri>/lease`. */
export interface LeaseRecord {
  writerId: string;
  /** Grows by one on every change of holder: a fencing token. */
  generation: number;
  /** Holder's clock, ms since epoch, of the last refresh. */
  heartbeatAt: number;
  ttlMs: number;
  acquiredAt: number;
  releasedAt?: number;
  hostname: string;
  pid: number;
}

/**
 * The longest lease TTL memocall writes or believes: a week. A lease is kept alive by refreshes,
 * so a long computation never needs a long TTL; a larger one in a record is corruption.
 */
export const MAX_LEASE_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** Highest generation a lease may carry (a takeover of a corrupt lease counts on from its hint). */
export const MAX_LEASE_GENERATION = Number.MAX_SAFE_INTEGER;

/**
 * How far clocks (and the write of a refresh) may disagree before a lease's times stop being
 * believed: its TTL, at most 5 s. A heartbeat later than `now + ttl + allowance` cannot come from
 * a working clock, and a waiter gives an unchanged lease at most its own TTL plus this (see
 * execute/lease-watch.ts). Proportional to the TTL because a live holder is taken over anyway
 * once its clock lags by more than the TTL less its refresh period (docs/remote-execution.md,
 * "Leases under faults").
 */
export function leaseClockAllowanceMs(ttlMs: number): number {
  return Math.min(ttlMs, 5_000);
}

/** Latest ms-since-epoch value a lease may carry: 2100-01-01, so `+ ttl` stays exact. */
const MAX_EPOCH_MS = 4_102_444_800_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeLeaseRecord(record: LeaseRecord): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

/**
 * The lease read from `uri` (for messages), validated against the reader's clock `now`: numbers
 * finite integers in range, the TTL at most MAX_LEASE_TTL_MS, the heartbeat not further ahead
 * than TTL plus the clock allowance. Anything else throws CorruptRecordError: a lease memocall
 * cannot believe is treated as expired, never waited on.
 */
export function decodeLeaseRecord(bytes: Uint8Array, uri = 'lease', now = Date.now()): LeaseRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (err) {
    throw new CorruptRecordError(uri, `not JSON (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  if (!isPlainRecord(parsed)) throw new CorruptRecordError(uri, `not a lease record: ${describeValue(parsed)}`);
  const problem = firstProblem(
    stringField(parsed, 'writerId', { nonEmpty: true }),
    integerField(parsed, 'generation', 1, MAX_LEASE_GENERATION),
    integerField(parsed, 'heartbeatAt', 0, MAX_EPOCH_MS),
    integerField(parsed, 'ttlMs', 1, MAX_LEASE_TTL_MS),
    integerField(parsed, 'acquiredAt', 0, MAX_EPOCH_MS),
    integerField(parsed, 'releasedAt', 0, MAX_EPOCH_MS, { optional: true }),
    stringField(parsed, 'hostname'),
    integerField(parsed, 'pid', 0, Number.MAX_SAFE_INTEGER),
  );
  if (problem) throw new CorruptRecordError(uri, problem);
  const record = parsed as unknown as LeaseRecord;
  const latest = now + record.ttlMs + leaseClockAllowanceMs(record.ttlMs);
  if (record.heartbeatAt > latest)
    throw new CorruptRecordError(
      uri,
      `heartbeatAt ${record.heartbeatAt} is ${record.heartbeatAt - now} ms ahead of this clock, beyond its TTL (${record.ttlMs} ms) and the clock allowance`,
    );
  return record;
}

/** Free to take: released, or not refreshed within its TTL by the reader's clock `now`. */
export function isLeaseFree(record: LeaseRecord, now = Date.now()): boolean {
  return record.releasedAt !== undefined || now > record.heartbeatAt + record.ttlMs;
}
