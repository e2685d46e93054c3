import fs from 'node:fs';
import path from 'node:path';
import type { CacheLayout } from './cache-layout.js';
import {
  formatWriterTag,
  ownWriterTag,
  parseWriterTag,
  writerLiveness,
  type WriterTag,
} from '../blobstore/local/writer-identity.js';
import { ensurePrivateDir, foreignReason, removeForeign } from './private-files.js';

/**
 * Fills in progress: each download or copy into the cache happens in its own folder under
 * `v1/tmp/`, named `<writer tag>-<random>` (the filling process's host, boot, pid and start time:
 * blobstore/local/writer-identity.ts). A killed fill leaves its folder behind; it is removed as
 * soon as its writer is provably dead, or when nothing in it was written for `PARTIAL_FILL_MAX_IDLE_MS` (a writer
 * on another host, or one that hangs). Until then its bytes count toward the cache's size cap:
 * they take disk space like entries do.
 */

/** A partial fill nobody wrote to for this long is abandoned, whoever its writer. */
export const PARTIAL_FILL_MAX_IDLE_MS = 24 * 3600_000;

/** A fresh private folder for one fill, named after this process as its writer. */
export async function createPartialFillDir(layout: CacheLayout): Promise<string> {
  ensurePrivateDir(layout.dir, layout.tmpRoot);
  return fs.promises.mkdtemp(path.join(layout.tmpRoot, `${formatWriterTag(ownWriterTag())}-`));
}

/** The writer of a fill folder, from its name; undefined for names of older memocall versions. */
export function writerOfPartialFill(name: string): WriterTag | undefined {
  const cut = name.lastIndexOf('-');
  return cut < 0 ? undefined : parseWriterTag(name.slice(0, cut));
}

export interface PartialFill {
  dir: string;
  /** Bytes on disk (allocated, so a sparse file of ranged writes is not over-counted). */
  bytes: number;
  /** Since the last write to the folder or any file in it, ms. */
  idleMs: number;
  writer?: WriterTag;
  /** Why the folder is not one of ours, if it is not. */
  foreign?: string;
}

/** Every fill folder under `v1/tmp/`, in no particular order. */
export function listPartialFills(layout: CacheLayout): PartialFill[] {
  let names: string[];
  try {
    names = fs.readdirSync(layout.tmpRoot);
  } catch {
    return [];
  }
  const fills: PartialFill[] = [];
  const now = Date.now();
  for (const name of names) {
    const dir = path.join(layout.tmpRoot, name);
    const st = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (st === undefined) continue;
    const foreign = foreignReason(st, 'dir');
    if (foreign !== undefined) {
      fills.push({ dir, bytes: st.isFile() ? st.size : 0, idleMs: now - st.mtimeMs, foreign });
      continue;
    }
    let bytes = 0;
    let newest = st.mtimeMs;
    let files: string[] = [];
    try {
      files = fs.readdirSync(dir);
    } catch {
      continue; // removed meanwhile
    }
    for (const file of files) {
      const f = fs.lstatSync(path.join(dir, file), { throwIfNoEntry: false });
      if (f === undefined) continue;
      newest = Math.max(newest, f.mtimeMs);
      if (f.isFile()) bytes += Math.min(f.size, f.blocks * 512);
    }
    const fill: PartialFill = { dir, bytes, idleMs: now - newest };
    const writer = writerOfPartialFill(name);
    if (writer !== undefined) fill.writer = writer;
    fills.push(fill);
  }
  return fills;
}

/** True when a fill folder is left over: not ours, its writer dead, or idle too long. */
export function isAbandoned(fill: PartialFill, maxIdleMs = PARTIAL_FILL_MAX_IDLE_MS): boolean {
  if (fill.foreign !== undefined) return true;
  if (fill.writer !== undefined && writerLiveness(fill.writer) === 'dead') return true;
  return Math.abs(fill.idleMs) > maxIdleMs;
}

/**
 * Removes abandoned fill folders; returns the ones still in progress (whose bytes count toward
 * the cap) and how many were removed.
 */
export function removeAbandonedPartialFills(
  layout: CacheLayout,
  maxIdleMs = PARTIAL_FILL_MAX_IDLE_MS,
): { live: PartialFill[]; removed: number } {
  const live: PartialFill[] = [];
  let removed = 0;
  for (const fill of listPartialFills(layout)) {
    if (!isAbandoned(fill, maxIdleMs)) {
      live.push(fill);
      continue;
    }
    try {
      if (fill.foreign !== undefined) removeForeign(fill.dir, fill.foreign);
      else fs.rmSync(fill.dir, { recursive: true, force: true });
      removed++;
    } catch {
      // a cleanup: never fails the fill that triggered it; the next sweep tries again
    }
  }
  return { live, removed };
}
