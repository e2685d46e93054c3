import path from 'node:path';
import { sha256Hex } from '../../core/sha256.js';
import { HeldLockFile, LockFileWatch, removeLockFileVersion } from './lock-file.js';

/**
 * A short-lived cross-process lock on one object of the file store, taken by the writes that
 * replace or remove it (`ifMatch` compare-and-swap, unconditional put, delete); readers and
 * `ifNoneMatch` creates (a hard link) never take it. It is a hidden sibling lock file
 * (lock-file.ts) naming its holder.
 *
 * The critical section is synchronous and tiny (stat, compare, rename: microseconds), so
 * contention is short. A waiter breaks the lock only when its holder is provably dead on this host,
 * or when the waiter has seen that very lock unchanged for `staleMs` on its own monotonic clock:
 * then the holder died elsewhere, or was frozen for seconds (SIGSTOP, a suspended VM; then the
 * fencing is lost, which is the price of never wedging an object). No clock is compared with
 * another's or with a file timestamp, so skewed clocks (other hosts, an NFS server) break nothing.
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
  const breaker = lock.slice(0, -LOCK_SUFFIX.length) + BREAKER_SUFFIX;
  // This waiter's own observations of the lock and of its breaker, on its monotonic clock.
  const lockWatch = new LockFileWatch(staleMs);
  const breakerWatch = new LockFileWatch(staleMs);
  for (let attempt = 0; ; attempt++) {
    const mine = HeldLockFile.tryAcquire(lock);
    if (mine !== undefined) {
      try {
        return critical();
      } finally {
        // If we were frozen past staleMs our lock was broken and may now be someone else's.
        mine.release();
      }
    }
    breakIfAbandoned(lock, breaker, lockWatch, breakerWatch);
    // Holders keep the lock for microseconds: retry soon, with jitter so waiters spread out.
    const ms = Math.min(2 ** attempt, 32) * (0.5 + Math.random());
    await new Promise((resolve) => setTimeout(resolve, ms));
  }
}

/**
 * Removes the lock if this waiter judges it abandoned. Two waiters may decide so at the same
 * moment; if each just removed it, the slower one could remove the lock the faster one has just
 * re-created. So breaking is itself serialized by a second lock file, the breaker, and under it
 * the lock is removed only if it is still the very version judged abandoned. The breaker is held
 * for microseconds; one left by a process killed inside that window is judged like a lock.
 */
function breakIfAbandoned(lock: string, breaker: string, lockWatch: LockFileWatch, breakerWatch: LockFileWatch): void {
  const verdict = lockWatch.look(lock);
  if (verdict.state !== 'abandoned') return;
  const breaking = HeldLockFile.tryAcquire(breaker);
  if (breaking === undefined) {
    const other = breakerWatch.look(breaker);
    if (other.state === 'abandoned') removeLockFileVersion(breaker, other.version);
    return;
  }
  try {
    removeLockFileVersion(lock, verdict.version);
  } finally {
    breaking.release();
  }
}
