import fs from 'node:fs';
import path from 'node:path';
import type { CacheLayout } from './cache-layout.js';
import { isSha256Hex } from './cache-layout.js';
import { removeEntry } from './content-entry.js';
import { breakIfDead } from './fill-lock.js';
import { PARTIAL_FILL_MAX_IDLE_MS, removeAbandonedPartialFills } from './partial-fills.js';
import { foreignReason, removeForeign } from './private-files.js';
import { allIndexRecords, filesUnder } from './uri-index.js';

/**
 * Size-capped LRU eviction. The "last used" time of an entry is the mtime of its `.used` marker
 * (touched at every use), falling back to the content's ctime. Several processes may prune at
 * once: removing an entry twice is harmless, and a process that was handed an entry's path just
 * before another removed it still reads its bytes through any fd it has open (POSIX unlink).
 * Fills in progress count toward the cap (partial-fills.ts); abandoned ones are removed first.
 */

export interface EntryInfo {
  sha256: string;
  size: number;
  lastUsed: Date;
  path: string;
}

/** Every content entry of ours (regular files of this user, never through a symlink), in no particular order. */
export function listEntries(layout: CacheLayout): EntryInfo[] {
  const entries: EntryInfo[] = [];
  for (const file of filesUnder(layout.contentRoot)) {
    const name = path.basename(file);
    if (!isSha256Hex(name)) continue;
    const st = fs.lstatSync(file, { throwIfNoEntry: false });
    if (st === undefined || foreignReason(st) !== undefined) continue;
    const marker = fs.lstatSync(`${file}.used`, { throwIfNoEntry: false });
    const lastUsed = marker !== undefined && foreignReason(marker) === undefined ? marker.mtime : st.ctime;
    entries.push({ sha256: name, size: st.size, lastUsed, path: file });
  }
  return entries;
}

export interface PruneReport {
  /** Bytes of content and of fills in progress, before and after. */
  bytesBefore: number;
  bytesAfter: number;
  /** Bytes of fills in progress (counted in both figures above). */
  partialBytes: number;
  removed: EntryInfo[];
  /** Abandoned partial fills removed (their writer died, or nothing was written for a day). */
  abandonedFills: number;
}

/**
 * Removes abandoned partial fills, then least recently used entries (never those in `keep`) until
 * content plus fills in progress take ≤ `maxBytes`.
 */
export function enforceCap(layout: CacheLayout, maxBytes: number, keep: ReadonlySet<string> = new Set()): PruneReport {
  const partials = removeAbandonedPartialFills(layout);
  const partialBytes = partials.live.reduce((sum, p) => sum + p.bytes, 0);
  const entries = listEntries(layout);
  const bytesBefore = entries.reduce((sum, e) => sum + e.size, 0) + partialBytes;
  let total = bytesBefore;
  const removed: EntryInfo[] = [];
  if (total > maxBytes) {
    entries.sort((a, b) => a.lastUsed.getTime() - b.lastUsed.getTime());
    for (const entry of entries) {
      if (total <= maxBytes) break;
      if (keep.has(entry.sha256)) continue;
      removeEntry(layout, entry.sha256);
      total -= entry.size;
      removed.push(entry);
    }
  }
  return { bytesBefore, bytesAfter: total, partialBytes, removed, abandonedFills: partials.removed };
}

/**
 * Housekeeping for `memocall cache prune`: index records whose content is gone, partial fills
 * whose writer died or that sat idle for `tempAgeMs`, fill locks of dead holders, markers without
 * content, and files that are not ours (symlinks, other users' files).
 */
export function sweep(
  layout: CacheLayout,
  tempAgeMs = PARTIAL_FILL_MAX_IDLE_MS,
  lockStaleMs = 30_000,
): { indexRecords: number; tempDirs: number; locks: number } {
  let indexRecords = 0;
  for (const { file, record } of allIndexRecords(layout)) {
    if (!isSha256Hex(record.sha256) || !fs.existsSync(layout.content(record.sha256))) {
      fs.rmSync(file, { force: true });
      indexRecords++;
    }
  }
  for (const file of filesUnder(layout.contentRoot)) {
    const st = fs.lstatSync(file, { throwIfNoEntry: false });
    if (st === undefined) continue;
    const foreign = foreignReason(st);
    if (foreign !== undefined) removeForeign(file, foreign);
    else if (file.endsWith('.used') && !fs.existsSync(file.slice(0, -'.used'.length))) fs.rmSync(file, { force: true });
  }
  const tempDirs = removeAbandonedPartialFills(layout, tempAgeMs).removed;
  let locks = 0;
  let lockNames: string[] = [];
  try {
    lockNames = fs.readdirSync(layout.locksRoot);
  } catch {
    // no locks folder: nothing to sweep
  }
  for (const name of lockNames) if (breakIfDead(path.join(layout.locksRoot, name), lockStaleMs)) locks++;
  return { indexRecords, tempDirs, locks };
}
