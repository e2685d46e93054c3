import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { formatWriterTag, ownWriterTag, parseWriterTag, type WriterTag, writerLiveness } from './writer-identity.js';

/**
 * The lock-file primitive of memocall's cross-process locks (the file store's object locks, the
 * download cache's fill locks): a file created with O_EXCL. Node has no flock/fcntl locks, and an
 * O_EXCL create succeeds in exactly one process, also across hosts on NFSv3+.
 *
 * A lock is identified by the inode and mtime it had when created (or last refreshed): when a
 * holder presumed dead has its lock broken and someone else creates a new one, the new file has a
 * newer mtime (ext4 reuses freed inodes at once, so the inode alone is not enough), and the old
 * holder must then leave it alone.
 *
 * Whether a lock is abandoned is never judged by comparing clocks (a lock file's timestamps come
 * from the kernel or the NFS server, the judge's clock may be a minute off: issue 18). A holder
 * writes who it is (`newLockHolderContents`); a waiter breaks the lock only when that holder is
 * provably dead on the waiter's host, or when it has seen the very same lock version (inode,
 * timestamps, contents) unchanged for longer than the stale period on its own monotonic clock
 * (`LockFileWatch`). A holder whose work takes long refreshes its lock (`HeldLockFile.refresh`),
 * which makes it a new version.
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

/**
 * One exact version of a lock file: a lock broken and re-created, or refreshed by its holder, is
 * another version (the contents carry a random nonce and a heartbeat count, so even a re-used
 * inode with a coarse timestamp is told apart).
 */
export interface LockFileVersion extends LockFileIdentity {
  ctimeNs: bigint;
  contents: string;
}

/** Holder records are one short line; more is not a memocall lock record. */
const MAX_RECORD_BYTES = 512;

/** The version of the lock file there now (read through one fd: one inode); undefined if there is none. */
export function readLockFileVersion(lockPath: string): LockFileVersion | undefined {
  let fd: number;
  try {
    // open() also revalidates NFS's attribute cache (close-to-open consistency), so a waiter on
    // another client sees a holder's refresh.
    fd = fs.openSync(lockPath, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const buf = Buffer.alloc(MAX_RECORD_BYTES);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const st = fs.fstatSync(fd, { bigint: true });
    return { ino: st.ino, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, contents: buf.toString('latin1', 0, n) };
  } finally {
    fs.closeSync(fd);
  }
}

export function sameLockFileVersion(a: LockFileVersion | undefined, b: LockFileVersion): boolean {
  return (
    a !== undefined &&
    a.ino === b.ino &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs &&
    a.contents === b.contents
  );
}

/**
 * The record a holder writes into its lock: `<writer tag> <nonce> <beat>`: who holds it (host,
 * boot, pid and process start: writer-identity.ts), a random nonce that makes every lock file a
 * new version, and a heartbeat count that `HeldLockFile.refresh` increments.
 */
export function newLockHolderContents(nonce = randomBytes(6).toString('hex'), beat = 0): string {
  return `${formatWriterTag(ownWriterTag())} ${nonce} ${beat}\n`;
}

/** The holder a lock record names; undefined for records of another form (older memocall, a partial write). */
export function lockHolderOf(contents: string): WriterTag | undefined {
  const m = /^(\S+) [0-9a-f]+ \d+\n$/.exec(contents);
  return m ? parseWriterTag(m[1]!) : undefined;
}

/**
 * True only when `holder` is provably gone: a process of this host and this boot whose pid no
 * longer exists or now belongs to a process started at another time. A holder on another host or
 * another boot (another machine may share the host name) is never judged so: only a watch can.
 */
export function isLockHolderDead(holder: WriterTag): boolean {
  const me = ownWriterTag();
  if (holder.host !== me.host || holder.boot !== me.boot || holder.start === 0 || me.start === 0) return false;
  return writerLiveness(holder) === 'dead';
}

export type LockFileVerdict =
  | { state: 'free' }
  | { state: 'held'; version: LockFileVersion }
  | { state: 'abandoned'; version: LockFileVersion; reason: 'holder-dead' | 'unchanged' };

/**
 * A waiter's view of one lock file. Each look reads the lock's version; a version is abandoned
 * when its holder is provably dead here, or when this watch has seen it unchanged for longer than
 * `staleMs` on this process's monotonic clock. Only durations on the waiter's own clock count, so
 * no clock is compared with another machine's or with file timestamps.
 */
export class LockFileWatch {
  readonly #staleMs: number;
  readonly #now: () => number;
  #seen: LockFileVersion | undefined;
  #seenSince = 0;

  constructor(staleMs: number, now: () => number = () => performance.now()) {
    this.#staleMs = staleMs;
    this.#now = now;
  }

  look(lockPath: string): LockFileVerdict {
    const version = readLockFileVersion(lockPath);
    if (version === undefined) {
      this.#seen = undefined;
      return { state: 'free' };
    }
    const now = this.#now();
    if (!sameLockFileVersion(this.#seen, version)) {
      this.#seen = version;
      this.#seenSince = now;
    }
    const holder = lockHolderOf(version.contents);
    if (holder !== undefined && isLockHolderDead(holder)) return { state: 'abandoned', version, reason: 'holder-dead' };
    if (now - this.#seenSince > this.#staleMs) return { state: 'abandoned', version, reason: 'unchanged' };
    return { state: 'held', version };
  }
}

/**
 * A lock file this process holds, with its holder record. `refresh` (for work that lasts longer
 * than a fraction of the waiters' stale period) makes it a new version; `release` removes it
 * unless it was broken meanwhile.
 */
export class HeldLockFile {
  readonly path: string;
  readonly #nonce: string;
  #beat = 0;
  #version: LockFileVersion | undefined;

  private constructor(lockPath: string, nonce: string, version: LockFileVersion) {
    this.path = lockPath;
    this.#nonce = nonce;
    this.#version = version;
  }

  /** Takes the lock, or returns undefined if it exists. Other failures (no directory, no permission) are thrown. */
  static tryAcquire(lockPath: string): HeldLockFile | undefined {
    const nonce = randomBytes(6).toString('hex');
    const contents = newLockHolderContents(nonce);
    let fd: number;
    try {
      fd = fs.openSync(lockPath, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
      throw err;
    }
    try {
      fs.writeSync(fd, contents);
      const st = fs.fstatSync(fd, { bigint: true });
      return new HeldLockFile(lockPath, nonce, { ino: st.ino, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, contents });
    } catch (err) {
      fs.closeSync(fd);
      fd = -1;
      try {
        fs.unlinkSync(lockPath); // created but not recorded: never leave a lock nobody will release
      } catch {
        // already broken
      }
      throw err;
    } finally {
      if (fd >= 0) fs.closeSync(fd);
    }
  }

  /** False once the lock was broken (the holder was taken for dead): it is no longer ours. */
  get held(): boolean {
    return this.#version !== undefined;
  }

  /**
   * Writes the next heartbeat count into the lock, through an fd checked to be our very lock
   * file, so a lock someone else has created since ours was broken is never written to. Returns
   * false (and the lock is no longer held) if ours was broken.
   */
  refresh(): boolean {
    const held = this.#version;
    if (held === undefined) return false;
    let fd: number;
    try {
      fd = fs.openSync(this.path, 'r+');
    } catch {
      this.#version = undefined; // removed: broken
      return false;
    }
    try {
      const buf = Buffer.alloc(MAX_RECORD_BYTES);
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      const st = fs.fstatSync(fd, { bigint: true });
      const now = { ino: st.ino, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, contents: buf.toString('latin1', 0, n) };
      if (!sameLockFileVersion(now, held)) {
        this.#version = undefined;
        return false;
      }
      this.#beat++;
      // Never shorter than before (the count only grows), so no stale tail survives the write.
      const contents = newLockHolderContents(this.#nonce, this.#beat);
      fs.writeSync(fd, contents, 0, 'latin1');
      const after = fs.fstatSync(fd, { bigint: true });
      this.#version = { ino: after.ino, mtimeNs: after.mtimeNs, ctimeNs: after.ctimeNs, contents };
      return true;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Removes the lock if it is still ours; a lock broken and re-created by another is left alone. */
  release(): void {
    const held = this.#version;
    this.#version = undefined;
    if (held !== undefined) removeLockFileVersion(this.path, held);
  }
}

/**
 * Removes the lock file if it is still exactly `version` (ours when releasing, the one judged
 * abandoned when breaking); returns whether it did. Check and unlink are two steps: a caller
 * breaking a lock serializes breakers (see file-object-lock.ts), and between the two steps only
 * the judged holder itself could change the file, which was dead or silent for the stale period.
 */
export function removeLockFileVersion(lockPath: string, version: LockFileVersion): boolean {
  if (!sameLockFileVersion(readLockFileVersion(lockPath), version)) return false;
  try {
    fs.unlinkSync(lockPath);
    return true;
  } catch {
    return false; // removed meanwhile
  }
}
