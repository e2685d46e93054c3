import fs from 'node:fs';
import path from 'node:path';
import { FILL_STAMP_MS, FILL_STAMP_SECONDS, type CacheLayout } from './cache-layout.js';

/**
 * One content entry of the cache: a read-only file named by its SHA-256, stamped with a fixed
 * mtime when filled, plus a `.used` marker whose mtime is the entry's last use (for LRU).
 * Checking an entry is one stat (no re-hash): the stamp and the read-only mode say nobody wrote
 * to it since it was verified. A silent change that keeps both (bit rot, a deliberate utimes) is
 * what `memocall cache verify` is for.
 */

export type EntryState = { kind: 'ok'; size: number } | { kind: 'absent' } | { kind: 'suspect'; size: number };

/** One stat: is the entry there, intact as far as metadata tells, and of the expected size? */
export function entryState(layout: CacheLayout, sha256: string, size?: number): EntryState {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(layout.content(sha256), { throwIfNoEntry: false });
  } catch {
    return { kind: 'absent' }; // e.g. ENOTDIR: a broken tree is a miss, refilled
  }
  if (st === undefined || !st.isFile()) return { kind: 'absent' };
  const intact = st.mtimeMs === FILL_STAMP_MS && (st.mode & 0o222) === 0;
  if (!intact) return { kind: 'suspect', size: st.size };
  // An intact entry of another size than asked for: the expectation is wrong, not the entry.
  return size === undefined || st.size === size ? { kind: 'ok', size: st.size } : { kind: 'absent' };
}

/** Marks the entry as used now (LRU). Never fails the caller: the marker is only a hint. */
export function touchUsed(layout: CacheLayout, sha256: string): void {
  const marker = layout.usedMarker(sha256);
  const now = new Date();
  try {
    fs.utimesSync(marker, now, now);
  } catch {
    try {
      fs.closeSync(fs.openSync(marker, 'a'));
    } catch {
      // the entry's directory vanished (pruned): the next use refills it
    }
  }
}

/** Makes a verified temp file read-only and stamped, ready to be renamed into place. */
export function sealFile(file: string): void {
  fs.chmodSync(file, 0o444);
  fs.utimesSync(file, FILL_STAMP_SECONDS, FILL_STAMP_SECONDS);
}

/**
 * Renames a sealed temp file (same filesystem) into the entry's place, atomically: readers see
 * no entry or a whole one. An intact entry already there (another process was faster) is kept.
 */
export function publishSealed(layout: CacheLayout, sealed: string, sha256: string, size: number): string {
  const target = layout.content(sha256);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  if (entryState(layout, sha256, size).kind === 'ok') {
    fs.rmSync(sealed, { force: true });
  } else {
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
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}
