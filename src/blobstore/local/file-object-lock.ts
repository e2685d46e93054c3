import fs from 'node:fs';
import path from 'node:path';
import { sha256Hex } from '../../core/sha256.js';
import { lockFileAgeMs, removeLockFileIfUnchanged, tryCreateLockFile } from './lock-file.js';

/**
 * A short-lived cross-process lock on one object of the file store, taken by the writes that
 * replace or remove it (`ifMatch` compare-and-swap, unconditional put, delete); readers and
 * `ifNoneMatch` creates (a hard link) never take it. It is a hidden sibling lock file (lock-file.ts).
 *
 * The critical section is synchronous and tiny (stat, compare, rename: microseconds), so
 * contention is short and a lock older than `staleMs` can only belong to a process that died
 * holding it (or was frozen for seconds, e.g. SIGSTOP or a suspended VM: then the fencing is lost,
 * which is the price of never wedging an object).
 */

const LOCK_SUFFIX = '.memocall-lock';
const BREAKER_SUFFIX = '.memocall-lockbreak';

/** `dir/.name.memocall-lock` next to the object `dir/name`. */
export function lockPathFor(target: string): string {
  let base = path.basename(target);
  // Deterministic per object (unlike temp names), so long names are hashed, not cut.
  if (Buffer.byteLength(base) > 200) base = sha256Hex(base);
  return path.join(path.dirname(target), `.${base}${LOCK_SUFFIX}`);
}

/** True for lock and lock-breaker files: listings skip them and objects may not use these names. */
export function isLockName(name: string): boolean {
  return name.charCodeAt(0) === 46 /* . */ && (name.endsWith(LOCK_SUFFIX) || name.endsWith(BREAKER_SUFFIX));
}

/**
 * Runs `critical` (which must be synchronous: nothing else of this process may run while the lock
 * is held, and the hold must stay far below `staleMs`) under the lock of `target`.
 * Rejects with the filesystem error when the lock cannot be created (e.g. ENOENT: no directory).
 */
export async function withObjectLock<T>(target: string, staleMs: number, critical: () => T): Promise<T> {
  const lock = lockPathFor(target);
  for (let attempt = 0; ; attempt++) {
    const mine = tryCreateLockFile(lock);
    if (mine !== null) {
      try {
        return critical();
      } finally {
        // If we were frozen past staleMs our lock was broken and may now be someone else's.
        removeLockFileIfUnchanged(lock, mine);
      }
    }
    breakLockIfStale(lock, staleMs);
    // Holders keep the lock for microseconds: retry soon, with jitter so waiters spread out.
    const ms = Math.min(2 ** attempt, 32) * (0.5 + Math.random());
    await new Promise((resolve) => setTimeout(resolve, ms));
  }
}

/**
 * Removes a lock whose holder is presumed dead. Two waiters may decide so at the same moment; if
 * each just unlinked, the slower one could remove the lock the faster one has just re-created.
 * So breaking is itself serialized by a second O_EXCL file, and under it the lock is re-checked.
 * The breaker is held for microseconds; one left by a process killed inside that window is
 * simply removed once stale (a double failure, so the race it reopens is accepted).
 */
function breakLockIfStale(lock: string, staleMs: number): void {
  if (!isStale(lock, staleMs)) return;
  const breaker = lock.slice(0, -LOCK_SUFFIX.length) + BREAKER_SUFFIX;
  if (tryCreateLockFile(breaker) === null) {
    if (isStale(breaker, staleMs)) unlinkIfPresent(breaker);
    return;
  }
  try {
    if (isStale(lock, staleMs)) unlinkIfPresent(lock);
  } finally {
    unlinkIfPresent(breaker);
  }
}

function isStale(file: string, staleMs: number): boolean {
  return (lockFileAgeMs(file) ?? 0) > staleMs;
}

function unlinkIfPresent(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
