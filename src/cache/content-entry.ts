import fs from 'node:fs';
import path from 'node:path';
import { FILL_STAMP_MS, FILL_STAMP_SECONDS, type CacheLayout } from './cache-layout.js';
import { ensurePrivateDir, foreignReason, removeForeign } from './private-files.js';

/**
 * One content entry of the cache: a read-only file named by its SHA-256, stamped with a fixed
 * mtime when filled, plus a `.used` marker whose mtime is the entry's last use (for LRU).
 * Checking an entry is one lstat (no re-hash): the stamp and the read-only mode say nobody wrote
 * to it since it was verified, the owner says nobody else put it there. A silent change that
 * keeps all three (bit rot, a deliberate utimes) is what `memocall cache verify` is for.
 * Neither the entry nor its marker is ever reached through a symlink.
 */

export type EntryState = { kind: 'ok'; size: number } | { kind: 'absent' } | { kind: 'suspect'; size: number };

const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = fs.constants.O_NONBLOCK ?? 0;

/**
 * One lstat: is the entry there, ours, intact as far as metadata tells, and of the expected size?
 * A symlink, a non-file or another user's file at the entry's path is foreign: removed (with a
 * warning) and reported absent, so the caller fills it again.
 */
export function entryState(layout: CacheLayout, sha256: string, size?: number): EntryState {
  const file = layout.content(sha256);
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(file, { throwIfNoEntry: false });
  } catch {
    return { kind: 'absent' }; // e.g. ENOTDIR: a broken tree is a miss, refilled
  }
  if (st === undefined) return { kind: 'absent' };
  const foreign = foreignReason(st);
  if (foreign !== undefined) {
    removeForeign(file, foreign);
    return { kind: 'absent' };
  }
  const intact = st.mtimeMs === FILL_STAMP_MS && (st.mode & 0o222) === 0;
  if (!intact) return { kind: 'suspect', size: st.size };
  // An intact entry of another size than asked for: the expectation is wrong, not the entry.
  return size === undefined || st.size === size ? { kind: 'ok', size: st.size } : { kind: 'absent' };
}

/**
 * Marks the entry as used now (LRU). The marker is opened without following symlinks and must be
 * a regular file of ours: a planted one is replaced. Never fails the caller: it is only a hint.
 */
export function touchUsed(layout: CacheLayout, sha256: string): void {
  const marker = layout.usedMarker(sha256);
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = fs.openSync(marker, fs.constants.O_WRONLY | fs.constants.O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o600);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return; // the entry's directory vanished (pruned)
      const st = fs.lstatSync(marker, { throwIfNoEntry: false });
      if (st === undefined) continue;
      removeForeign(marker, foreignReason(st) ?? `not writable (${code})`);
      continue;
    }
    try {
      const st = fs.fstatSync(fd);
      const foreign = foreignReason(st);
      if (foreign === undefined) {
        const now = new Date();
        fs.futimesSync(fd, now, now);
        return;
      }
      removeForeign(marker, foreign);
    } catch {
      return;
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** The mode an entry gets: read-only, owner-readable, group/other read only if `sourceMode` had it. */
export function entryModeFor(sourceMode: number | undefined): number {
  return sourceMode === undefined ? 0o400 : 0o400 | (sourceMode & 0o044);
}

/** Makes a verified temp file read-only (`mode`) and stamped, ready to be renamed into place. */
export function sealFile(file: string, mode: number): void {
  fs.chmodSync(file, mode & 0o444);
  fs.utimesSync(file, FILL_STAMP_SECONDS, FILL_STAMP_SECONDS);
}

/**
 * An entry is never more readable than the most private source it was filled or found from:
 * removes read bits `mode` does not have (chmod keeps the mtime stamp).
 */
export function restrictEntryMode(layout: CacheLayout, sha256: string, mode: number): void {
  const file = layout.content(sha256);
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!st?.isFile() || foreignReason(st) !== undefined) return;
  const narrowed = st.mode & 0o777 & (mode | 0o400);
  if (narrowed !== (st.mode & 0o777)) fs.chmodSync(file, narrowed);
}

/**
 * Renames a sealed temp file (same filesystem) into the entry's place, atomically: readers see
 * no entry or a whole one. An intact entry already there (another process was faster) is kept,
 * narrowed to `mode`; a foreign one is replaced (rename replaces a symlink, never follows it).
 */
export function publishSealed(layout: CacheLayout, sealed: string, sha256: string, size: number, mode: number): string {
  const target = layout.content(sha256);
  ensurePrivateDir(layout.dir, path.dirname(target));
  if (entryState(layout, sha256, size).kind === 'ok') {
    fs.rmSync(sealed, { force: true });
    restrictEntryMode(layout, sha256, mode);
  } else {
    const st = fs.lstatSync(target, { throwIfNoEntry: false });
    if (st?.isDirectory()) removeForeign(target, 'a directory');
    fs.renameSync(sealed, target);
  }
  touchUsed(layout, sha256);
  return target;
}

/** Removes an entry (content and marker). Open readers keep their bytes (POSIX unlink). */
export function removeEntry(layout: CacheLayout, sha256: string): void {
  for (const file of [layout.content(sha256), layout.usedMarker(sha256)]) {
    try {
      fs.unlinkSync(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EISDIR' || code === 'EPERM') removeForeign(file, 'a directory');
      else if (code !== 'ENOENT') throw err;
    }
  }
}
