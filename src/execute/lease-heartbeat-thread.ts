import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { debuglog } from 'node:util';
import { Worker } from 'node:worker_threads';
import type { BlobStore } from '../blobstore/blob-store.js';
import { isEnvironmentCloudStore } from '../blobstore/cloud/cloud-stores.js';
import { FileBlobStore } from '../blobstore/local/file-store.js';
import type { LeaseRecord } from '../protocol/lease-record.js';
import type { FromHeartbeatThread, ToHeartbeatThread } from './lease-heartbeat-messages.js';

const debug = debuglog('memocall');

/**
 * The heartbeat thread: one worker thread per process that refreshes held leases, so a function
 * keeping the main thread busy (CPU-bound, synchronous) cannot starve their timers and lose them.
 * It opens the store itself, so it serves only stores it can rebuild exactly: file://, and the
 * cloud stores when configured from the environment alone. memory:// is per thread (the worker
 * cannot see it) and user-registered stores are unknown there: those are refreshed on the main
 * thread, as before.
 */
export function canRefreshOffThread(store: BlobStore): boolean {
  return store instanceof FileBlobStore || isEnvironmentCloudStore(store);
}

/** What the heartbeat thread reports about one lease. */
export interface OffThreadEvents {
  refreshed(etag: string, record: LeaseRecord, confirmedAt: number, tookMs: number): void;
  lost(detail: string): void;
  /** The thread is gone (it failed to start or crashed): refresh on the main thread from now on. */
  fallBack(): void;
}

/** A lease refreshed by the heartbeat thread. */
export interface OffThreadLease {
  /** Stops refreshing; resolves, once no write of the thread is in flight, to its last version. */
  stop(): Promise<{ etag: string; record: LeaseRecord } | undefined>;
}

interface Handle {
  events: OffThreadEvents;
  stopping?: Promise<{ etag: string; record: LeaseRecord } | undefined>;
  stopped?: (last: { etag: string; record: LeaseRecord } | undefined) => void;
}

let worker: Worker | undefined;
let workerReady = false;
let workerFailed = false;
/** Called once the thread has loaded (with true) or has failed to (false). */
const waitingForReady = new Set<(ready: boolean) => void>();
let nextId = 1;
let pendingStops = 0;
const handles = new Map<number, Handle>();

/**
 * The worker program beside this file, in the same form as it: compiled JavaScript as is; a
 * TypeScript source (tests, tsx) through tsx's API, registered in the worker before the import
 * (a worker's `--import` of a loader does not reach its own ESM loader on Node 20).
 */
function workerProgram(): { code: string | URL; eval: boolean } | undefined {
  const own = import.meta.url;
  if (!own.endsWith('.ts')) return { code: new URL('./lease-heartbeat-worker.js', own), eval: false };
  try {
    // tsx's ESM build of its API (the CommonJS one locates its hooks wrongly from a worker).
    const api = createRequire(own)
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs');
    if (!existsSync(api)) return undefined;
    const program = new URL('./lease-heartbeat-worker.ts', own).href;
    const code = `import(${JSON.stringify(pathToFileURL(api).href)})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(program)}); })
  .catch((err) => { setImmediate(() => { throw err; }); });`;
    return { code, eval: true };
  } catch {
    return undefined; // TypeScript sources without tsx: stay on the main thread
  }
}

function startWorker(): Worker | undefined {
  if (worker || workerFailed) return worker;
  const program = workerProgram();
  if (!program) {
    workerFailed = true;
    return undefined;
  }
  try {
    worker = new Worker(program.code, { eval: program.eval, execArgv: [] });
  } catch (err) {
    debug('heartbeat thread not started: %s', err);
    workerFailed = true;
    return undefined;
  }
  // Never keeps the process alive by itself (again once online: an unref before that does not
  // hold on Node 20 for a worker started from code).
  worker.unref();
  worker.once('online', unrefUnlessWaited);
  worker.on('message', onMessage);
  const fail = (why: unknown) => {
    debug('heartbeat thread ended (%s): refreshing leases on the main thread', why);
    workerFailed = true;
    worker = undefined;
    for (const waiter of [...waitingForReady]) waiter(false);
    waitingForReady.clear();
    const orphaned = [...handles.values()];
    handles.clear();
    for (const handle of orphaned) {
      if (handle.stopped) handle.stopped(undefined);
      else handle.events.fallBack();
    }
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(`exit ${code}`));
  return worker;
}

/** The thread keeps the process alive only while someone awaits an answer from it. */
function unrefUnlessWaited(): void {
  if (pendingStops === 0 && waitingForReady.size === 0) worker?.unref();
}

function onMessage(message: FromHeartbeatThread): void {
  if (message.type === 'ready') {
    workerReady = true;
    for (const waiter of [...waitingForReady]) waiter(true);
    waitingForReady.clear();
    unrefUnlessWaited();
    return;
  }
  const handle = handles.get(message.id);
  if (!handle) return;
  switch (message.type) {
    case 'refreshed':
      if (!handle.stopping) handle.events.refreshed(message.etag, message.record, message.confirmedAt, message.tookMs);
      return;
    case 'retrying':
      debug('lease refresh failed in the heartbeat thread, retrying: %s', message.message);
      return;
    case 'lost':
      handles.delete(message.id);
      if (handle.stopped) handle.stopped(undefined);
      else handle.events.lost(message.detail);
      return;
    case 'stopped':
      handles.delete(message.id);
      handle.stopped?.(message.etag && message.record ? { etag: message.etag, record: message.record } : undefined);
  }
}

function post(message: ToHeartbeatThread): void {
  worker?.postMessage(message);
}

/**
 * Resolves once the heartbeat thread has loaded (true), starting it if needed, or cannot run
 * (false). Leases taken before are refreshed on the main thread meanwhile; loading takes tens of
 * milliseconds from compiled JavaScript, seconds through tsx on a loaded machine.
 */
export function heartbeatThreadReady(): Promise<boolean> {
  if (workerReady && worker) return Promise.resolve(true);
  if (!startWorker()) return Promise.resolve(false);
  worker?.ref();
  return new Promise((resolve) => waitingForReady.add(resolve));
}

/**
 * Hands a held lease to the running heartbeat thread, or undefined when there is none (the
 * caller then refreshes it on the main thread).
 */
export function refreshOffThread(
  lease: {
    uri: string;
    etag: string;
    record: LeaseRecord;
    refreshMs: number;
    stampedAgoMs: number;
    writeBudgetMs: number;
  },
  events: OffThreadEvents,
): OffThreadLease | undefined {
  if (!startWorker()) return undefined;
  const id = nextId++;
  const handle: Handle = { events };
  handles.set(id, handle);
  post({ type: 'hold', id, ...lease });
  return {
    stop() {
      if (handle.stopping) return handle.stopping;
      if (!handles.has(id)) return (handle.stopping = Promise.resolve(undefined));
      handle.stopping = new Promise((resolve) => {
        // Waiting for the answer must keep the process alive (a release follows it).
        pendingStops++;
        worker?.ref();
        handle.stopped = (last) => {
          pendingStops--;
          unrefUnlessWaited();
          resolve(last);
        };
      });
      post({ type: 'stop', id });
      return handle.stopping;
    },
  };
}
