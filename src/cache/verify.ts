import type { CacheLayout } from './cache-layout.js';
import { entryState, removeEntry } from './content-entry.js';
import { listEntries, type EntryInfo } from './eviction.js';
import { sha256OfFile } from '../core/sha256-file.js';

export interface VerifyReport {
  checked: number;
  bytes: number;
  /** Entries whose bytes no longer hash to their name (or could not be read): removed. */
  removed: Array<EntryInfo & { reason: string }>;
}

/**
 * Re-hashes every entry (the only check that finds silent corruption which kept the metadata).
 * Bad entries are removed, so the next use downloads them again.
 */
export async function verifyCache(
  layout: CacheLayout,
  onEntry?: (entry: EntryInfo, ok: boolean) => void,
): Promise<VerifyReport> {
  const report: VerifyReport = { checked: 0, bytes: 0, removed: [] };
  for (const entry of listEntries(layout)) {
    let reason: string | undefined;
    try {
      const digest = await sha256OfFile(entry.path);
      if (digest.sha256 !== entry.sha256) reason = `content hashes to ${digest.sha256}`;
      else if (entryState(layout, entry.sha256).kind !== 'ok') reason = 'writable or re-stamped (modified in place?)';
    } catch (err) {
      reason = `unreadable: ${(err as Error).message}`;
    }
    report.checked++;
    report.bytes += entry.size;
    if (reason !== undefined) {
      removeEntry(layout, entry.sha256);
      report.removed.push({ ...entry, reason });
    }
    onEntry?.(entry, reason === undefined);
  }
  return report;
}
