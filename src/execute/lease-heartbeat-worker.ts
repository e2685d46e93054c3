// The heartbeat thread's program: refreshes the leases the main thread hands it, on its own event
// loop, so a main thread kept busy by CPU-bound work cannot starve them. The same schedule as
// HeldLease's own (lease.ts): due a refresh period after the previous stamp, stamped ahead by the
// previous write's duration, every write a compare-and-swap fenced by the writer id.
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import '../blobstore/cloud/cloud-stores.js';
import type { BlobStore } from '../blobstore/blob-store.js';
import { PreconditionFailedError } from '../blobstore/errors.js';
import { lookupBlobStore } from '../blobstore/registry.js';
import { decodeLeaseRecord, encodeLeaseRecord, type LeaseRecord } from '../protocol/lease-record.js';
import { readVersionedRecord } from '../protocol/read-record.js';
import type { FromHeartbeatThread, ToHeartbeatThread } from './lease-heartbeat-messages.js';

interface Held {
  id: number;
  uri: string;
  store: BlobStore;
  etag: string;
  record: LeaseRecord;
  refreshMs: number;
  writeBudgetMs: number;
  lastStampAt: number;
  timer?: NodeJS.Timeout;
  inflight?: Promise<void>;
  stopped: boolean;
}

class Lost extends Error {}

const port = parentPort!;
const held = new Map<number, Held>();
const post = (message: FromHeartbeatThread) => port.postMessage(message);

port.on('message', (message: ToHeartbeatThread) => {
  if (message.type === 'hold') {
    const h: Held = {
      id: message.id,
      uri: message.uri,
      store: lookupBlobStore(message.uri),
      etag: message.etag,
      record: message.record,
      refreshMs: message.refreshMs,
      writeBudgetMs: message.writeBudgetMs,
      lastStampAt: performance.now() - message.stampedAgoMs,
      stopped: false,
    };
    held.set(h.id, h);
    scheduleNext(h);
  } else {
    const h = held.get(message.id);
    if (!h) {
      post({ type: 'stopped', id: message.id }); // already lost: nothing in flight
      return;
    }
    h.stopped = true;
    clearTimeout(h.timer);
    held.delete(h.id);
    void (h.inflight ?? Promise.resolve()).then(() =>
      post({ type: 'stopped', id: h.id, etag: h.etag, record: h.record }),
    );
  }
});

function scheduleNext(h: Held): void {
  schedule(h, Math.max(0, h.lastStampAt + h.refreshMs - performance.now()));
}

function schedule(h: Held, delayMs: number): void {
  if (h.stopped) return;
  h.timer = setTimeout(() => {
    const started = performance.now();
    h.lastStampAt = started;
    h.inflight = refreshOnce(h).then(
      (confirmedAt) => {
        const tookMs = performance.now() - started;
        h.writeBudgetMs = Math.min(tookMs, h.refreshMs);
        post({ type: 'refreshed', id: h.id, etag: h.etag, record: h.record, confirmedAt, tookMs });
        scheduleNext(h);
      },
      (err: unknown) => {
        if (err instanceof Lost) {
          h.stopped = true;
          held.delete(h.id);
          post({ type: 'lost', id: h.id, detail: err.message });
          return;
        }
        // Never drop a lease on a transient failure: retry soon.
        post({ type: 'retrying', id: h.id, message: err instanceof Error ? err.message : String(err) });
        schedule(h, Math.max(10, Math.floor(h.refreshMs / 5)));
      },
    );
  }, delayMs);
}

/** One fenced heartbeat; resolves to the wall-clock time it confirms the lease at. */
async function refreshOnce(h: Held): Promise<number> {
  for (;;) {
    const writtenAt = Date.now();
    const next: LeaseRecord = { ...h.record, heartbeatAt: Math.round(writtenAt + h.writeBudgetMs) };
    try {
      const { etag } = await h.store.put(h.uri, encodeLeaseRecord(next), { ifMatch: h.etag });
      h.etag = etag;
      h.record = next;
      return writtenAt;
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
    }
    // Someone wrote the lease: our cooperating peer (same writer id) is fine, anyone else is not.
    const current = await readVersionedRecord(h.store, h.uri, decodeLeaseRecord);
    if (!current) throw new Lost('the lease vanished');
    if (current.corrupt) throw new Lost(`the lease record is corrupt (${current.corrupt.message})`);
    if (current.record.writerId !== h.record.writerId) throw new Lost(`taken over by ${current.record.writerId}`);
    if (current.record.releasedAt !== undefined) throw new Lost('it was released');
    h.etag = current.etag;
    h.record = current.record;
  }
}

// Loaded: from now on the main thread hands leases over (until then it refreshes them itself).
post({ type: 'ready' });
