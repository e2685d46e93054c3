import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { debuglog } from 'node:util';
import type { BlobStore } from '../blobstore/blob-store.js';
import { PreconditionFailedError } from '../blobstore/errors.js';
import { ConfigurationError } from '../core/configuration-error.js';
import { redactUri } from '../core/redact-uri.js';
import type { MemocallError } from '../core/memocall-error.js';
import { RecordPathBlockedError, warnCorruptRecord } from '../protocol/corrupt-record.js';
import { defaultLeaseRefreshMs } from '../protocol/defaults.js';
import {
  decodeLeaseRecord,
  encodeLeaseRecord,
  isLeaseFree,
  MAX_LEASE_GENERATION,
  MAX_LEASE_TTL_MS,
  type LeaseRecord,
} from '../protocol/lease-record.js';
import { isWriterOrAttempt } from '../protocol/attempt-writer-id.js';
import { readVersionedRecord } from '../protocol/read-record.js';
import { LeaseLostError } from './errors.js';
import { canRefreshOffThread, type OffThreadLease, refreshOffThread } from './lease-heartbeat-thread.js';
import { LeaseWatch } from './lease-watch.js';
import { onTermination } from './termination.js';

export { isLeaseFree, type LeaseRecord } from '../protocol/lease-record.js';

const debug = debuglog('memocall');

export interface LeaseOptions {
  /** A lease not refreshed for this long may be taken over. Default 90 000 ms. */
  ttlMs: number;
  /** Refresh period. Default `ttlMs / 2`. */
  refreshMs?: number;
  /**
   * The caller's watch over the lease across its attempts (see LeaseWatch): caps how long an
   * unchanged lease can hold it. Without one, each attempt judges by the record's times only.
   */
  watch?: LeaseWatch;
}

export type AcquireOutcome = { acquired: true; lease: HeldLease } | { acquired: false; holder: LeaseRecord };

/** The lease as stored: a record to believe, or a corrupt one (with the version to replace). */
type LeaseState =
  | { record: LeaseRecord; etag: string; corrupt?: undefined }
  | { record?: undefined; etag: string; corrupt: MemocallError; generation: number };

/**
 * Reads the lease with the etag of exactly those bytes, or null when there is none. A lease that
 * is corrupt (not JSON, fields out of range, a heartbeat from the far future, a store checksum
 * mismatch) throws CorruptRecordError or the store's integrity error.
 */
export async function readLease(store: BlobStore, uri: string): Promise<{ record: LeaseRecord; etag: string } | null> {
  const state = await readLeaseState(store, uri);
  if (state?.corrupt) throw state.corrupt;
  return state;
}

async function readLeaseState(store: BlobStore, uri: string): Promise<LeaseState | null> {
  const state = await readVersionedRecord(store, uri, decodeLeaseRecord);
  if (!state) return null;
  if (state.corrupt) return { corrupt: state.corrupt, etag: state.etag, generation: generationHint(state.data) };
  return { record: state.record, etag: state.etag };
}

/** The generation a corrupt lease seems to carry, if any, so a takeover still counts up. */
function generationHint(bytes: Uint8Array | undefined): number {
  if (!bytes) return 0;
  try {
    const generation = (JSON.parse(new TextDecoder().decode(bytes)) as { generation?: unknown } | null)?.generation;
    return Number.isSafeInteger(generation) && (generation as number) > 0 ? (generation as number) : 0;
  } catch {
    return 0;
  }
}

/**
 * Why the stored lease no longer belongs to `writerId`, or undefined while it does. A re-run of a
 * queued job takes the lease over under `<writerId>#a<n>`: still the acquirer's (`attemptsAreMine`),
 * but no longer a cooperating holder's running under the plain or an earlier id.
 */
function notHeldBecause(
  state: LeaseState | null,
  writerId: string,
  takenVerb: string,
  attemptsAreMine: boolean,
): string | undefined {
  if (!state) return 'the lease vanished';
  if (state.corrupt) return `the lease record is corrupt (${state.corrupt.message})`;
  const stored = state.record.writerId;
  if (attemptsAreMine ? !isWriterOrAttempt(stored, writerId) : stored !== writerId) return `${takenVerb} ${stored}`;
  if (state.record.releasedAt !== undefined) return 'it was released';
  return undefined;
}

/**
 * Rounds in a row in which the store refused to create the lease (something is there) and a read
 * found nothing (not an object: a directory on file://) before that is an error, not a race.
 */
const BLOCKED_ROUNDS = 5;

function checkedTtlMs(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0 || ttlMs > MAX_LEASE_TTL_MS)
    throw new ConfigurationError(
      `a lease TTL must be a positive number of milliseconds up to ${MAX_LEASE_TTL_MS} (a week), got ${ttlMs}`,
    );
  return Math.ceil(ttlMs);
}

const held = new Set<HeldLease>();

/** How long the last lease write to each store took: new leases are stamped that far ahead. */
const lastLeaseWriteMs = new WeakMap<BlobStore, number>();

/** process.emitWarning code of a lease refresh whose write took more than a quarter of the TTL. */
export const SLOW_LEASE_REFRESH_WARNING = 'MEMOCALL_SLOW_LEASE_REFRESH';

/**
 * One attempt to take the lease: create it if absent, take it over if released, expired, corrupt,
 * or unchanged for longer than the caller's watch allows. Conditional writes decide races, so
 * exactly one contender wins; a lease is never overwritten blindly.
 */
export async function tryAcquireLease(
  store: BlobStore,
  uri: string,
  writerId: string,
  opts: LeaseOptions,
): Promise<AcquireOutcome> {
  const ttlMs = checkedTtlMs(opts.ttlMs);
  const watch = opts.watch ?? new LeaseWatch(ttlMs);
  // Most leases are taken on a first call, when none exists: try to create before reading.
  let current: LeaseState | null | undefined;
  let blockedRounds = 0;
  for (;;) {
    if (current?.corrupt) {
      warnCorruptRecord(uri, current.corrupt, 'treating the lease as expired and taking it over');
    } else if (current && !isLeaseFree(current.record)) {
      if (!watch.exhausted(current.etag)) return { acquired: false, holder: current.record };
      debug(
        'lease %s unchanged for %d ms (heartbeat %d): taking it over',
        uri,
        watch.budgetMs,
        current.record.heartbeatAt,
      );
    }
    // Stamped ahead by this store's last lease-write time (see HeldLease.refresh).
    const now = Date.now() + Math.round(Math.min(lastLeaseWriteMs.get(store) ?? 0, defaultLeaseRefreshMs(ttlMs)));
    // Replacing a corrupt lease is a change of holder too (generation 2 at least: the new holder
    // then looks for an outcome the old one may have stored).
    const previous = current ? (current.corrupt ? Math.max(1, current.generation) : current.record.generation) : 0;
    const record: LeaseRecord = {
      writerId,
      generation: Math.min(previous, MAX_LEASE_GENERATION - 1) + 1,
      heartbeatAt: now,
      ttlMs,
      acquiredAt: now,
      hostname: hostname(),
      pid: process.pid,
    };
    const creating = !current;
    try {
      const condition = current ? { ifMatch: current.etag } : { ifNoneMatch: '*' as const };
      const stampedAt = performance.now();
      const { etag } = await store.put(uri, encodeLeaseRecord(record), condition);
      const writeMs = performance.now() - stampedAt;
      lastLeaseWriteMs.set(store, writeMs);
      const lease = new HeldLease(store, uri, record, etag, { ...opts, ttlMs }, true, { stampedAt, writeMs });
      lease.startMaintaining();
      return { acquired: true, lease };
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
      // It exists, or someone else wrote between our read and write: look (again).
    }
    current = await readLeaseState(store, uri);
    if (current === null && creating) {
      if (++blockedRounds >= BLOCKED_ROUNDS) throw new RecordPathBlockedError(uri);
      await sleep(10 * blockedRounds);
    } else {
      blockedRounds = 0;
    }
  }
}

/**
 * A second cooperating holder of a lease another process acquired (the remote side of a
 * shim): checks the writer id and keeps the lease alive, but never releases it.
 */
export async function adoptLease(store: BlobStore, uri: string, writerId: string): Promise<HeldLease> {
  const current = await readLeaseState(store, uri);
  if (!current) throw new LeaseLostError(uri, writerId, 'there is no lease');
  if (current.corrupt)
    throw new LeaseLostError(uri, writerId, `the lease record is corrupt (${current.corrupt.message})`);
  if (current.record.writerId !== writerId) {
    throw new LeaseLostError(
      uri,
      writerId,
      `it is held by writer ${current.record.writerId} (generation ${current.record.generation})`,
    );
  }
  if (current.record.releasedAt !== undefined) throw new LeaseLostError(uri, writerId, 'it was released');
  const lease = new HeldLease(store, uri, current.record, current.etag, { ttlMs: current.record.ttlMs }, false);
  lease.startMaintaining();
  return lease;
}

/** The held lease of this process for `writerId`, if any: lets a same-process remote skip I/O. */
export function heldLeaseOf(writerId: string): HeldLease | undefined {
  for (const lease of held) if (lease.writerId === writerId) return lease;
  return undefined;
}

/** A lease this process holds: refreshed in the background until released or lost. */
export class HeldLease {
  readonly uri: string;
  readonly writerId: string;
  readonly generation: number;
  private etag: string;
  private record: LeaseRecord;
  private timer: NodeJS.Timeout | undefined;
  private readonly refreshMs: number;
  // Its signal is made only when asked for (an AbortSignal costs tens of µs on Node 20).
  private readonly lostController = new AbortController();
  private lost = false;
  private finished = false;
  private released = false;
  private refreshing: Promise<void> | undefined;
  /** Local clock when a write of ours last confirmed that we hold the lease. */
  private confirmedAt: number;
  /** Monotonic time the last refresh started: the next one is due a refresh period later. */
  private lastStampAt = performance.now();
  /**
   * How long the last refresh write took (at most a refresh period): the next heartbeat is
   * stamped that far ahead, so it is about current when it lands rather than a write old.
   */
  private writeBudgetMs = 0;
  private warnedSlow = false;
  /** Set while the heartbeat thread refreshes this lease (see lease-heartbeat-thread.ts). */
  private offThread: OffThreadLease | undefined;
  /** Set once the heartbeat thread's first heartbeat is seen: this thread's timers then stop. */
  private threadRefreshing = false;

  constructor(
    private readonly store: BlobStore,
    uri: string,
    record: LeaseRecord,
    etag: string,
    opts: LeaseOptions,
    private readonly mayRelease = true,
    /** The write that made the record: when it was stamped (monotonic) and how long it took. */
    firstWrite?: { stampedAt: number; writeMs: number },
  ) {
    this.uri = uri;
    this.writerId = record.writerId;
    this.generation = record.generation;
    this.record = record;
    this.etag = etag;
    this.refreshMs = Math.max(10, opts.refreshMs ?? defaultLeaseRefreshMs(opts.ttlMs));
    // An adopted lease was confirmed by the reader of someone else's write: no write of ours yet.
    this.confirmedAt = mayRelease ? record.heartbeatAt : -Infinity;
    if (firstWrite) {
      this.lastStampAt = firstWrite.stampedAt;
      this.writeBudgetMs = Math.min(firstWrite.writeMs, this.refreshMs);
    }
  }

  /** Aborted when another writer is found holding the lease. */
  get lostSignal(): AbortSignal {
    return this.lostController.signal;
  }

  get isLost(): boolean {
    return this.lost;
  }

  startMaintaining(): void {
    held.add(this);
    releaseHeldLeasesOnTermination();
    // Handed to the heartbeat thread at once (CPU-bound work cannot starve it), and refreshed here
    // too until the thread's first heartbeat is seen: a thread takes a moment to load.
    if (canRefreshOffThread(this.store)) this.handOverToThread();
    this.scheduleNextRefresh();
  }

  /**
   * Hands the refreshes to the heartbeat thread. Until its first heartbeat is seen both refresh:
   * harmless, as each write that finds a newer version with our writer id on it adopts it.
   */
  private handOverToThread(): void {
    this.offThread = refreshOffThread(
      {
        uri: this.uri,
        etag: this.etag,
        record: this.record,
        refreshMs: this.refreshMs,
        stampedAgoMs: performance.now() - this.lastStampAt,
        writeBudgetMs: this.writeBudgetMs,
      },
      {
        refreshed: (etag, record, confirmedAt, tookMs) => {
          if (this.finished) return;
          this.threadRefreshing = true;
          if (this.timer) clearTimeout(this.timer);
          this.etag = etag;
          this.record = record;
          this.confirmedAt = confirmedAt;
          lastLeaseWriteMs.set(this.store, tookMs);
          if (tookMs > record.ttlMs / 4) this.warnSlowRefresh(tookMs);
        },
        lost: (detail) => this.markLost(undefined, detail),
        fallBack: () => {
          this.offThread = undefined;
          this.threadRefreshing = false;
          this.scheduleNextRefresh();
        },
      },
    );
  }

  /**
   * Schedules from the previous stamp, not from the end of its write: a slow write then delays
   * the next heartbeat by nothing (or, slower than a period, starts the next one at once).
   */
  private scheduleNextRefresh(): void {
    if (this.threadRefreshing) return;
    // Rounded up: a timer never fires before the period since the last stamp is over.
    this.schedule(Math.max(0, Math.ceil(this.lastStampAt + this.refreshMs - performance.now())));
  }

  private schedule(delayMs: number): void {
    if (this.finished || this.threadRefreshing) return;
    this.timer = setTimeout(() => {
      this.refreshing = this.refresh()
        .then(() => this.scheduleNextRefresh())
        .catch((err: unknown) => {
          if (err instanceof LeaseLostError) return;
          // Never drop a lease on a transient failure: retry soon, while the call still runs.
          debug('lease refresh of %s failed, retrying: %s', this.uri, err);
          this.schedule(Math.max(10, Math.floor(this.refreshMs / 5)));
        });
    }, delayMs);
    this.timer.unref();
  }

  /**
   * Writes a new heartbeat, fenced by writer id: a taken-over lease is never overwritten. The
   * heartbeat is stamped ahead by the last write's duration (at most a refresh period), so a slow
   * store does not make the stored heartbeat a whole write older than the holder's state.
   */
  async refresh(): Promise<void> {
    const started = performance.now();
    this.lastStampAt = started;
    const budgetMs = this.writeBudgetMs;
    await this.casUpdate((record) => ({ ...record, heartbeatAt: Math.round(Date.now() + budgetMs) }));
    const tookMs = performance.now() - started;
    lastLeaseWriteMs.set(this.store, tookMs);
    this.writeBudgetMs = Math.min(tookMs, this.refreshMs);
    if (tookMs > this.record.ttlMs / 4) this.warnSlowRefresh(tookMs);
  }

  private warnSlowRefresh(tookMs: number): void {
    if (this.warnedSlow) return;
    this.warnedSlow = true;
    process.emitWarning(
      `refreshing the lease ${redactUri(this.uri)} took ${Math.round(tookMs)} ms, more than a quarter of its TTL (${this.record.ttlMs} ms): a store this slow can make a live holder lose its lease; raise leaseTtlMs (see docs/remote-execution.md, "Leases under faults")`,
      { code: SLOW_LEASE_REFRESH_WARNING },
    );
  }

  /**
   * Throws LeaseLostError unless the stored lease still names this writer, unreleased: the fence
   * before a result is written.
   *
   * The acquirer may skip the read within half a TTL of its own last write: nobody can have taken
   * the lease over since (a takeover needs it expired, and the scheme already assumes clocks
   * agree to well within a TTL), and its only other way to end, a release, is this object's own.
   * A cooperating holder in another process (adopted) always reads: the acquirer may have
   * released the lease at any moment (an aborted call), and a new caller taken it at once.
   */
  async verify(): Promise<void> {
    if (this.isLost) throw new LeaseLostError(this.uri, this.writerId, 'taken over');
    if (this.released) throw new LeaseLostError(this.uri, this.writerId, 'it was released');
    if (this.mayRelease && Date.now() < this.confirmedAt + this.record.ttlMs / 2) return;
    const current = await readLeaseState(this.store, this.uri);
    const detail = notHeldBecause(current, this.writerId, 'now held by', this.mayRelease);
    if (detail !== undefined || !current?.record) {
      this.markLost(current?.record, detail ?? 'the lease vanished');
      throw new LeaseLostError(this.uri, this.writerId, detail ?? 'the lease vanished');
    }
    this.etag = current.etag;
    this.record = current.record;
  }

  /** Whether the stored lease still names this writer (always reads, never throws LeaseLostError). */
  async stillHeld(): Promise<boolean> {
    if (this.isLost) return false;
    return (
      notHeldBecause(await readLeaseState(this.store, this.uri), this.writerId, 'held by', this.mayRelease) ===
      undefined
    );
  }

  private async casUpdate(change: (record: LeaseRecord) => LeaseRecord): Promise<void> {
    for (;;) {
      const next = change(this.record);
      const writtenAt = Date.now();
      try {
        const { etag } = await this.store.put(this.uri, encodeLeaseRecord(next), { ifMatch: this.etag });
        this.etag = etag;
        this.record = next;
        if (next.releasedAt === undefined) this.confirmedAt = Math.min(writtenAt, next.heartbeatAt);
        return;
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
      }
      // Someone wrote the lease: if it is our cooperating peer (same writer id), adopt its version.
      const current = await readLeaseState(this.store, this.uri);
      const detail = notHeldBecause(current, this.writerId, 'taken over by', this.mayRelease);
      if (detail !== undefined || !current?.record) {
        this.markLost(current?.record, detail ?? 'the lease vanished');
        throw new LeaseLostError(this.uri, this.writerId, detail ?? 'the lease vanished');
      }
      this.etag = current.etag;
      this.record = current.record;
    }
  }

  private markLost(by: LeaseRecord | undefined, detail: string): void {
    if (!this.lost) {
      this.lost = true;
      debug('lease %s lost (writer %s, now %s)', this.uri, this.writerId, by?.writerId ?? 'nobody');
      this.lostController.abort(new LeaseLostError(this.uri, this.writerId, detail));
    }
    this.stop();
  }

  private stop(): void {
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    void this.offThread?.stop();
    held.delete(this);
  }

  /**
   * Stops maintenance and marks the lease released (fenced: a lease someone else took over is
   * left alone). A cooperating remote holder only stops maintaining. Never throws.
   */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.stop();
    await this.refreshing?.catch(() => undefined);
    // Not waiting for the heartbeat thread to stop: a heartbeat of its own landing first only
    // makes the release's compare-and-swap read the lease again (same writer id) and retry.
    if (!this.mayRelease || this.isLost) return;
    // A failed release only costs the next caller a wait for expiry, but a brief store hiccup
    // should not: retry with a short backoff (about 1.5 s in all) before giving up.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.casUpdate((record) => ({ ...record, releasedAt: Date.now() }));
        return;
      } catch (err) {
        if (err instanceof LeaseLostError) return;
        debug('lease release of %s failed (attempt %d): %s', this.uri, attempt, err);
        if (attempt === RELEASE_ATTEMPTS) return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
    }
  }
}

const RELEASE_ATTEMPTS = 4;

let terminationHookInstalled = false;

/** On SIGINT/SIGTERM/SIGHUP every held lease is released before the process dies (termination.ts). */
function releaseHeldLeasesOnTermination(): void {
  if (terminationHookInstalled) return;
  terminationHookInstalled = true;
  onTermination(async () => {
    await Promise.allSettled([...held].map((lease) => lease.release()));
  });
}
