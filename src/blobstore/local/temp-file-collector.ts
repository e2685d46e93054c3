import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isTempName, writerOfTempName } from './atomic-local-file.js';
import { writerLiveness } from './writer-identity.js';

/**
 * Removes the temp files that killed writers leave in a file store (a write goes to a hidden temp
 * sibling first; a writer killed mid-write never links or removes it). A temp file is garbage when
 * its writer is provably dead (its name records host, boot, pid and process start: see
 * writer-identity.ts), or, for writers on other hosts and names that record no writer, when it
 * has not been written to for `maxAgeMs`. A live writer's temp file is never touched.
 */

/** 24 h: no write to one temp file pauses that long; only for writers this host cannot check. */
export const DEFAULT_TEMP_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** A dead writer's file younger than this is left alone (clock and pid checks race with a writer starting up). */
const DEAD_WRITER_GRACE_MS = 60 * 1000;

export interface TempFileGarbage {
  path: string;
  bytes: number;
  reason: 'writer-dead' | 'too-old';
}

export interface CollectGarbageOptions {
  /** Only report what would be removed. */
  dryRun?: boolean;
  /** Age after which a temp file whose writer cannot be checked is removed. Default 24 h. */
  maxAgeMs?: number;
}

export interface CollectGarbageReport {
  /** Removed (or, with dryRun, removable) temp files. */
  removed: TempFileGarbage[];
  /** Temp files left in place (writer alive, or not old enough to judge). */
  kept: number;
  directories: number;
}

/**
 * Walks the file store under `root` (a `file:///…` URI or an absolute path) and removes the temp
 * files of dead writers. Symlinked directories are not followed. The CLI's `memocall gc` calls it.
 */
export async function collectFileStoreGarbage(
  root: string,
  options: CollectGarbageOptions = {},
): Promise<CollectGarbageReport> {
  const start = root.startsWith('file:') ? fileURLToPath(root) : root;
  if (!path.isAbsolute(start)) throw new TypeError(`collectFileStoreGarbage: root must be absolute, got ${root}`);
  const report: CollectGarbageReport = { removed: [], kept: 0, directories: 0 };
  const pending = [start];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') continue;
      throw err;
    }
    report.directories++;
    for (const e of entries) {
      if (e.isDirectory()) pending.push(path.join(dir, e.name));
      else if (isTempName(e.name)) judgeAndRemove(path.join(dir, e.name), e.name, options, report);
    }
  }
  return report;
}

/**
 * The bounded, opportunistic pass of a write: the temp files among the first `maxEntries` entries
 * of one directory (where the writer of the same object or its siblings left them).
 */
export function sweepDirectory(
  dir: string,
  maxEntries: number,
  options: CollectGarbageOptions = {},
): CollectGarbageReport {
  const report: CollectGarbageReport = { removed: [], kept: 0, directories: 1 };
  let handle: fs.Dir;
  try {
    handle = fs.opendirSync(dir);
  } catch {
    return report;
  }
  try {
    for (let i = 0; i < maxEntries; i++) {
      const e = handle.readSync();
      if (e === null) break;
      if (isTempName(e.name)) judgeAndRemove(path.join(dir, e.name), e.name, options, report);
    }
  } finally {
    handle.closeSync();
  }
  return report;
}

function judgeAndRemove(
  file: string,
  name: string,
  options: CollectGarbageOptions,
  report: CollectGarbageReport,
): void {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!st?.isFile()) return;
  const age = Date.now() - st.mtimeMs;
  const writer = writerOfTempName(name);
  const liveness = writer === undefined ? 'unknown' : writerLiveness(writer);
  let reason: TempFileGarbage['reason'] | undefined;
  if (liveness === 'dead' && age > DEAD_WRITER_GRACE_MS) reason = 'writer-dead';
  else if (liveness === 'unknown' && age > (options.maxAgeMs ?? DEFAULT_TEMP_MAX_AGE_MS)) reason = 'too-old';
  if (reason === undefined) {
    report.kept++;
    return;
  }
  if (!options.dryRun) {
    try {
      fs.unlinkSync(file);
    } catch {
      return; // removed meanwhile (another collector, or the writer finishing)
    }
  }
  report.removed.push({ path: file, bytes: st.size, reason });
}
