import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  refreshLockFile,
  removeLockFileIfUnchanged,
  tryCreateLockFile,
  type LockFileIdentity,
} from '../blobstore/local/lock-file.js';
import {
  formatWriterTag,
  ownWriterTag,
  parseWriterTag,
  writerLiveness,
  type WriterTag,
} from '../blobstore/local/writer-identity.js';
import { foreignReason, readOwnFile, removeForeign } from './private-files.js';

/**
 * A cross-process lock held by the one process filling a cache entry; the others wait and then
 * find the entry filled. It is a lock file (blobstore/local/lock-file.ts) holding the holder's
 * writer tag (host, boot, pid and start time: blobstore/local/writer-identity.ts). Downloads take minutes, so the holder refreshes the file's
 * mtime on a timer (heartbeat). A waiter breaks the lock when
 *
 * - its holder is provably dead (same host and pid namespace, and an earlier boot, or the pid is
 *   gone or now belongs to a process that started at another time): at once;
 * - it is stale: its mtime is more than `staleMs` from now, either way (a lock stamped in the
 *   future by a clock that jumped holds a waiter at most twice `staleMs`, not until that time);
 * - whatever it holds cannot be parsed as a holder (torn JSON, NUL bytes after a machine crash,
 *   `null`, a lock of an older memocall): judged by staleness alone, with a warning
 *   (`MEMOCALL_CACHE_LOCK_CORRUPT`), since a holder writes its tag just after creating the file;
 * - it is not a regular file of ours (a symlink, another user's file): at once, with a warning.
 */

export const CACHE_LOCK_CORRUPT_WARNING = 'MEMOCALL_CACHE_LOCK_CORRUPT';

export interface FillLockOptions {
  /** A lock not refreshed for this long is presumed dead and broken. Default 30 000 ms. */
  staleMs?: number;
  /** First pause between two looks of a waiter; doubles up to `maxPollMs`. Default 10 ms. */
  minPollMs?: number;
  /** Longest pause between two looks of a waiter. Default 250 ms. */
  maxPollMs?: number;
}

/** What a lock file holds: its holder's writer tag; the pid and time only help a person reading it. */
interface LockRecord {
  writer: string;
  pid: number;
  since: string;
}

export interface HeldFillLock {
  release(): Promise<void>;
}

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
  await fs.promises.mkdir(path.dirname(lockPath), { recursive: true, mode: 0o700 });
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
  const record: LockRecord = {
    writer: formatWriterTag(ownWriterTag()),
    pid: process.pid,
    since: new Date().toISOString(),
  };
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

/** Removes the lock if its holder is gone (see the module comment); true if it did. */
export function breakIfDead(lockPath: string, staleMs: number): boolean {
  let plain: fs.Stats | undefined;
  let st: fs.BigIntStats | undefined;
  try {
    plain = fs.lstatSync(lockPath, { throwIfNoEntry: false });
    st = fs.lstatSync(lockPath, { bigint: true, throwIfNoEntry: false });
  } catch {
    return false;
  }
  if (plain === undefined || st === undefined) return false;
  const judged: LockFileIdentity = { ino: st.ino, mtimeNs: st.mtimeNs };
  const foreign = foreignReason(plain);
  if (foreign !== undefined) {
    // Never a lock of this user's processes: they create regular files of their own.
    removeForeign(lockPath, `a fill lock that is ${foreign}`);
    return true;
  }
  const ageMs = Date.now() - Number(st.mtimeNs / 1_000_000n);
  const stale = Math.abs(ageMs) > staleMs;
  const read = readOwnFile(lockPath);
  if (read.kind !== 'own') return false; // gone meanwhile, or replaced: judged at the next look
  const holder = parseHolder(read.data);
  if (holder === undefined) {
    // Empty or partial right after its creation, or torn by a crash: only its age can tell.
    if (!stale) return false;
    if (!sameLock(lockPath, judged)) return false;
    process.emitWarning(
      `download cache: fill lock ${lockPath} holds no readable holder (${describeBytes(read.data)}) and is ` +
        `${Math.round(Math.abs(ageMs) / 1000)} s old: broken`,
      { code: CACHE_LOCK_CORRUPT_WARNING },
    );
    removeLockFileIfUnchanged(lockPath, judged);
    return true;
  }
  if (!stale && writerLiveness(holder) !== 'dead') return false;
  // Only the very file we judged (a new holder's lock has another inode or mtime).
  if (!sameLock(lockPath, judged)) return false;
  removeLockFileIfUnchanged(lockPath, judged);
  return true;
}

/** The holder's writer tag, or undefined for anything else. */
function parseHolder(data: Buffer): WriterTag | undefined {
  try {
    const record: unknown = JSON.parse(data.toString('utf8'));
    if (typeof record !== 'object' || record === null) return undefined;
    const writer = (record as Partial<LockRecord>).writer;
    return typeof writer === 'string' ? parseWriterTag(writer) : undefined;
  } catch {
    return undefined;
  }
}

function sameLock(lockPath: string, judged: LockFileIdentity): boolean {
  const st = fs.lstatSync(lockPath, { bigint: true, throwIfNoEntry: false });
  return st !== undefined && st.ino === judged.ino && st.mtimeNs === judged.mtimeNs;
}

/** A short, safe description of unparsable lock contents (they may be anyone's bytes). */
function describeBytes(data: Buffer): string {
  if (data.length === 0) return 'empty';
  const shown = JSON.stringify(data.subarray(0, 40).toString('latin1')).replace(/[^\x20-\x7e]/g, '?');
  return `${data.length} bytes: ${shown}${data.length > 40 ? '…' : ''}`;
}
