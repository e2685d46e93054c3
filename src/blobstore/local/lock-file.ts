import fs from 'node:fs';

/**
 * The lock-file primitive of memocall's cross-process locks (the file store's object locks, the
 * download cache's fill locks): a file created with O_EXCL. Node has no flock/fcntl locks, and an
 * O_EXCL create succeeds in exactly one process, also across hosts on NFSv3+.
 *
 * A lock is identified by the inode and mtime it had when created (or last refreshed): when a
 * holder presumed dead has its lock broken and someone else creates a new one, the new file has a
 * newer mtime (ext4 reuses freed inodes at once, so the inode alone is not enough), and the old
 * holder must then leave it alone.
 */

export interface LockFileIdentity {
  ino: bigint;
  mtimeNs: bigint;
}

/**
 * Creates the lock file (writing `contents`, e.g. who holds it) and returns its identity, or
 * null if it exists already. Other failures (no directory, no permission) are thrown.
 */
export function tryCreateLockFile(lockPath: string, contents?: string): LockFileIdentity | null {
  let fd: number;
  try {
    fd = fs.openSync(lockPath, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return null;
    throw err;
  }
  try {
    if (contents !== undefined) fs.writeSync(fd, contents);
    return identityOf(fs.fstatSync(fd, { bigint: true }));
  } finally {
    fs.closeSync(fd);
  }
}

/** The identity of the lock file there now; undefined if there is none. */
export function currentLockFile(lockPath: string): LockFileIdentity | undefined {
  const st = fs.statSync(lockPath, { bigint: true, throwIfNoEntry: false });
  return st === undefined ? undefined : identityOf(st);
}

/**
 * Sets the lock file's mtime to now (a heartbeat: the lock is not stale) if it is still `held`,
 * and returns its new identity; undefined if it was broken meanwhile.
 */
export function refreshLockFile(lockPath: string, held: LockFileIdentity): LockFileIdentity | undefined {
  try {
    if (!sameLockFile(currentLockFile(lockPath), held)) return undefined;
    const now = new Date();
    fs.utimesSync(lockPath, now, now);
    return currentLockFile(lockPath);
  } catch {
    return undefined; // removed between the two calls
  }
}

/**
 * Removes the lock file if it is still the one described by `identity` (ours when releasing, the
 * one judged dead when breaking); leaves a newer one alone. Never throws for a missing file.
 */
export function removeLockFileIfUnchanged(lockPath: string, identity: LockFileIdentity): void {
  if (!sameLockFile(currentLockFile(lockPath), identity)) return;
  try {
    fs.unlinkSync(lockPath);
  } catch {
    // broken meanwhile: nothing left to remove
  }
}

/** How long ago the lock file was created or refreshed, in ms; undefined if there is none. */
export function lockFileAgeMs(lockPath: string): number | undefined {
  const st = fs.statSync(lockPath, { throwIfNoEntry: false });
  return st === undefined ? undefined : Date.now() - st.mtimeMs;
}

function identityOf(st: fs.BigIntStats): LockFileIdentity {
  return { ino: st.ino, mtimeNs: st.mtimeNs };
}

function sameLockFile(a: LockFileIdentity | undefined, b: LockFileIdentity): boolean {
  return a !== undefined && a.ino === b.ino && a.mtimeNs === b.mtimeNs;
}
