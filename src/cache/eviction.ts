import fs from 'node:fs';
import path from 'node:path';
import type { CacheLayout } from './cache-layout.js';
import { isSha256Hex } from './cache-layout.js';
import { removeEntry } from './content-entry.js';
import { allIndexRecords, filesUnder } from './uri-index.js';

/**
 * Size-capped LRU eviction. The "last used" time of an entry is the mtime of its `.used` marker
 * (touched at every use), falling back to the content's ctime. Several processes may prune at
 * once: removing an entry twice is harmless, and a process that was handed an entry's path just
 * before another removed it still reads its bytes through any fd it has open (POSIX unlink).
 */

export interface EntryInfo {
  sha256: string;
  size: number;
  lastUsed: Date;
  path: string;
}

/** Every content entry, in no particular order. */
export function listEntries(layout: CacheLayout): EntryInfo[] {
  const entries: EntryInfo[] = [];
  for (const file of filesUnder(layout.contentRoot)) {
    const name = path.basename(file);
    if (!isSha256Hex(name)) continue;
    const st = fs.statSync(file, { throwIfNoEntry: false });
    if (!st?.isFile()) continue;
    const marker = fs.statSync(`${file}.used`, { throwIfNoEntry: false });
    entries.push({ sha256: name, size: st.size, lastUsed: marker?.mtime ?? st.ctime, path: file });
  }
  return entries;
}

export interface PruneReport {
  /** Bytes of content before and after. */
  bytesBefore: number;
  bytesAfter: number;
  removed: EntryInfo[];
}

/** Removes least recently used entries (never those in `keep`) until content ≤ `maxBytes`. */
export function enforceCap(layout: CacheLayout, maxBytes: number, keep: ReadonlySet<string> = new Set()): PruneReport {
  const entries = listEntries(layout);
  const bytesBefore = entries.reduce((sum, e) => sum + e.size, 0);
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
  return { bytesBefore, bytesAfter: total, removed };
}

/**
 * Housekeeping for `memocall cache prune`: index records whose content is gone, temp directories
 * of downloads that died (older than `tempAgeMs`), markers without content.
 */
export function sweep(layout: CacheLayout, tempAgeMs = 24 * 3600_000): { indexRecords: number; tempDirs: number } {
  let indexRecords = 0;
  for (const { file, record } of allIndexRecords(layout)) {
    if (!fs.existsSync(layout.content(record.sha256))) {
      fs.rmSync(file, { force: true });
      indexRecords++;
    }
  }
  for (const file of filesUnder(layout.contentRoot)) {
    if (file.endsWith('.used') && !fs.existsSync(file.slice(0, -'.used'.length))) fs.rmSync(file, { force: true });
  }
  let tempDirs = 0;
  let names: string[] = [];
  try {
    names = fs.readdirSync(layout.tmpRoot);
  } catch {
    // no temp folder: nothing to sweep
  }
  for (const name of names) {
    const dir = path.join(layout.tmpRoot, name);
    const st = fs.statSync(dir, { throwIfNoEntry: false });
    if (st && Date.now() - st.mtimeMs > tempAgeMs) {
      fs.rmSync(dir, { recursive: true, force: true });
      tempDirs++;
    }
  }
  return { indexRecords, tempDirs };
}
