import { hostname } from 'node:os';
import { debuglog } from 'node:util';
import type { BlobStore, VersionedBlob } from '../blobstore/blob-store.js';
import { BlobNotFoundError, PreconditionFailedError } from '../blobstore/errors.js';
import { LeaseLostError } from './errors.js';
import { onTermination } from './termination.js';
import { defaultLeaseRefreshMs } from '../protocol/defaults.js';

const debug = debuglog('memocall');

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

export interface LeaseOptions {
  /** A lease not refreshed for this long may be taken over. Default 90 000 ms. */
  ttlMs: number;
  /** Refresh period. Default `ttlMs / 2`. */
  refreshMs?: number;
}

export type AcquireOutcome = { acquired: true; lease: HeldLease } | { acquired: false; holder: LeaseRecord };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function isLeaseFree(record: LeaseRecord, now = Date.now()): boolean {
  return record.releasedAt !== undefined || now > record.heartbeatAt + record.ttlMs;
}

/** Reads the lease with the etag of exactly those bytes, or null when there is none. */
export async function readLease(store: BlobStore, uri: string): Promise<{ record: LeaseRecord; etag: string } | null> {
  let blob: VersionedBlob;
  try {
    blob = store.getVersioned ? await store.getVersioned(uri) : await getVersionedByHead(store, uri);
  } catch (err) {
    if (err instanceof BlobNotFoundError) return null;
    throw err;
  }
  return { record: JSON.parse(decoder.decode(blob.data)) as LeaseRecord, etag: blob.etag };
}

/** For user stores without `getVersioned`: head, get, head again until both heads agree. */
async function getVersionedByHead(store: BlobStore, uri: string): Promise<VersionedBlob> {
  for (;;) {
    const before = await store.head(uri);
    if (!before) throw new BlobNotFoundError(uri);
    const data = await store.get(uri);
    const after = await store.head(uri);
    if (after && after.etag === before.etag) return { ...after, data };
  }
}

const held = new Set<HeldLease>();

/**
 * One attempt to take the lease: create it if absent, take it over if released or expired.
 * Conditional writes decide races, so exactly one contender wins.
 */
export async function tryAcquireLease(
  store: BlobStore,
  uri: string,
  writerId: string,
  opts: LeaseOptions,
): Promise<AcquireOutcome> {
  // Most leases are taken on a first call, when none exists: try to create before reading.
  let current: { record: LeaseRecord; etag: string } | null | undefined;
  for (;;) {
    if (current && !isLeaseFree(current.record)) return { acquired: false, holder: current.record };
    const now = Date.now();
    const record: LeaseRecord = {
      writerId,
      generation: (current?.record.generation ?? 0) + 1,
      heartbeatAt: now,
      ttlMs: opts.ttlMs,
      acquiredAt: now,
      hostname: hostname(),
      pid: process.pid,
    };
    try {
      const condition = current ? { ifMatch: current.etag } : { ifNoneMatch: '*' as const };
      const { etag } = await store.put(uri, encoder.encode(JSON.stringify(record)), condition);
      const lease = new HeldLease(store, uri, record, etag, opts);
      lease.startMaintaining();
      return { acquired: true, lease };
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
      // It exists, or someone else wrote between our read and write: look (again).
    }
    current = await readLease(store, uri);
  }
}

/**
 * A second cooperating holder of a lease another process acquired (the remote side of a
 * shim): checks the writer id and keeps the lease alive, but never releases it.
 */
export async function adoptLease(store: BlobStore, uri: string, writerId: string): Promise<HeldLease> {
  const current = await readLease(store, uri);
  if (!current) throw new LeaseLostError(uri, writerId, 'there is no lease');
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

  constructor(
    private readonly store: BlobStore,
    uri: string,
    record: LeaseRecord,
    etag: string,
    opts: LeaseOptions,
    private readonly mayRelease = true,
  ) {
    this.uri = uri;
    this.writerId = record.writerId;
    this.generation = record.generation;
    this.record = record;
    this.etag = etag;
    this.refreshMs = Math.max(10, opts.refreshMs ?? defaultLeaseRefreshMs(opts.ttlMs));
    // An adopted lease was confirmed by the reader of someone else's write: no write of ours yet.
    this.confirmedAt = mayRelease ? record.heartbeatAt : -Infinity;
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
    this.schedule(this.refreshMs);
  }

  private schedule(delayMs: number): void {
    if (this.finished) return;
    this.timer = setTimeout(() => {
      this.refreshing = this.refresh()
        .then(() => this.schedule(this.refreshMs))
        .catch((err: unknown) => {
          if (err instanceof LeaseLostError) return;
          // Never drop a lease on a transient failure: retry soon, while the call still runs.
          debug('lease refresh of %s failed, retrying: %s', this.uri, err);
          this.schedule(Math.max(10, Math.floor(this.refreshMs / 5)));
        });
    }, delayMs);
    this.timer.unref();
  }

  /** Writes a new heartbeat, fenced by writer id: a taken-over lease is never overwritten. */
  async refresh(): Promise<void> {
    await this.casUpdate((record) => ({ ...record, heartbeatAt: Date.now() }));
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
    const current = await readLease(this.store, this.uri);
    if (!current || current.record.writerId !== this.writerId || current.record.releasedAt !== undefined) {
      const detail = !current
        ? 'the lease vanished'
        : current.record.writerId !== this.writerId
          ? `now held by ${current.record.writerId}`
          : 'it was released';
      this.markLost(current?.record, detail);
      throw new LeaseLostError(this.uri, this.writerId, detail);
    }
    this.etag = current.etag;
    this.record = current.record;
  }

  /** Whether the stored lease still names this writer (always reads, never throws LeaseLostError). */
  async stillHeld(): Promise<boolean> {
    if (this.isLost) return false;
    const current = await readLease(this.store, this.uri);
    return !!current && current.record.writerId === this.writerId && current.record.releasedAt === undefined;
  }

  private async casUpdate(change: (record: LeaseRecord) => LeaseRecord): Promise<void> {
    for (;;) {
      const next = change(this.record);
      const writtenAt = Date.now();
      try {
        const { etag } = await this.store.put(this.uri, encoder.encode(JSON.stringify(next)), { ifMatch: this.etag });
        this.etag = etag;
        this.record = next;
        if (next.releasedAt === undefined) this.confirmedAt = Math.min(writtenAt, next.heartbeatAt);
        return;
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
      }
      // Someone wrote the lease: if it is our cooperating peer (same writer id), adopt its version.
      const current = await readLease(this.store, this.uri);
      if (!current || current.record.writerId !== this.writerId || current.record.releasedAt !== undefined) {
        const detail = !current
          ? 'the lease vanished'
          : current.record.writerId !== this.writerId
            ? `taken over by ${current.record.writerId}`
            : 'it was released';
        this.markLost(current?.record, detail);
        throw new LeaseLostError(this.uri, this.writerId, detail);
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
