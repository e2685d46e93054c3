import fs from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  currentLockFile,
  lockFileAgeMs,
  refreshLockFile,
  removeLockFileIfUnchanged,
  tryCreateLockFile,
} from '../blobstore/local/lock-file.js';

/**
 * A cross-process lock held by the one process filling a cache entry; the others wait and then
 * find the entry filled. It is a lock file (blobstore/local/lock-file.ts). Downloads take
 * minutes, so the holder refreshes the file's mtime on a timer (heartbeat): a lock whose mtime is
 * older than `staleMs` belongs to a process that died, and a lock naming a dead process of this
 * host is broken at once.
 */

export interface FillLockOptions {
  /** A lock not refreshed for this long is presumed dead and broken. Default 30 000 ms. */
  staleMs?: number;
  /** First pause between two looks of a waiter; doubles up to `maxPollMs`. Default 10 ms. */
  minPollMs?: number;
  /** Longest pause between two looks of a waiter. Default 250 ms. */
  maxPollMs?: number;
}

export interface HeldFillLock {
  release(): Promise<void>;
}

interface LockRecord {
  pid: number;
  host: string;
  since: string;
}

const HOST = hostname();

/**
 * Takes the lock at `lockPath`, or returns `done()`'s value as soon as it is defined (another
 * process filled the entry meanwhile). `done` is also asked once right after the lock is taken
 * (double-checked: the previous holder may have filled it just before releasing).
 */
export async function withFillLock<T>(
  lockPath: string,
  done: () => Promise<T | undefined>,
  fill: () => Promise<T>,
  options: FillLockOptions = {},
): Promise<T> {
  const staleMs = options.staleMs ?? 30_000;
  let poll = options.minPollMs ?? 10;
  const maxPoll = options.maxPollMs ?? 250;
  await fs.promises.mkdir(path.dirname(lockPath), { recursive: true });
  for (;;) {
    const held = tryLock(lockPath, staleMs);
    if (held) {
      try {
        const already = await done();
        if (already !== undefined) return already;
        return await fill();
      } finally {
        await held.release();
      }
    }
    const already = await done();
    if (already !== undefined) return already;
    breakIfDead(lockPath, staleMs);
    await sleep(poll * (0.75 + Math.random() / 2));
    poll = Math.min(poll * 2, maxPoll);
  }
}

function tryLock(lockPath: string, staleMs: number): HeldFillLock | undefined {
  const record: LockRecord = { pid: process.pid, host: HOST, since: new Date().toISOString() };
  let held = tryCreateLockFile(lockPath, JSON.stringify(record));
  if (held === null) return undefined;
  // Heartbeat: keeps the lock fresh while a long download runs; unref'd so it never holds the process open.
  const timer = setInterval(
    () => {
      // Once broken by someone who thought us dead, no longer ours: the fill still completes, atomically.
      if (held !== null) held = refreshLockFile(lockPath, held) ?? null;
    },
    Math.max(50, Math.floor(staleMs / 3)),
  );
  timer.unref();
  return {
    async release() {
      clearInterval(timer);
      // Only our own lock: after a break (we were frozen past staleMs) the file may be another's.
      if (held !== null) removeLockFileIfUnchanged(lockPath, held);
    },
  };
}

/** Removes the lock if its holder is gone: stale mtime, or a dead pid on this host. */
function breakIfDead(lockPath: string, staleMs: number): void {
  const judged = currentLockFile(lockPath);
  let record: Partial<LockRecord> = {};
  try {
    const text = fs.readFileSync(lockPath, 'utf8');
    if (text) record = JSON.parse(text) as Partial<LockRecord>;
  } catch {
    return; // gone already, or being written (empty/partial JSON): look again next time
  }
  if (judged === undefined) return;
  const stale = (lockFileAgeMs(lockPath) ?? 0) > staleMs;
  const deadHere = record.host === HOST && typeof record.pid === 'number' && !isAlive(record.pid);
  if (!stale && !deadHere) return;
  // Only the very file we judged (a new holder's lock has another inode or mtime).
  removeLockFileIfUnchanged(lockPath, judged);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
