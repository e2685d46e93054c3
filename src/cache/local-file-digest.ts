import fs from 'node:fs';
import path from 'node:path';
import type { CacheLayout } from './cache-layout.js';
import { isSha256Hex } from './cache-layout.js';
import { LocalFileChangedError } from '../core/local-file-changed-error.js';
import { sha256OfFile, type FileDigest, type ProgressCallback } from '../core/sha256-file.js';
import { ensurePrivateDir, readOwnTextOrRemove, writeOwnFileAtomically } from './private-files.js';

/**
 * SHA-256 of local files, remembered across processes: hashing a 1 GiB argument costs about a
 * second, and every call (hits included) needs its key. A record is trusted while the file's
 * identity is unchanged: device, inode, size, mtime and ctime, to the nanosecond. ctime cannot be
 * set by tools that preserve mtimes (cp -p, rsync -t), so a rewritten file is always noticed.
 * Only records that are regular files of this user are read (another user's could name any hash).
 */

interface Identity {
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
}

interface Record extends Identity {
  path: string;
  sha256: string;
}

// Per process as well: a second call with the same file then costs one stat.
const known = new Map<string, Record>();

function identityOf(st: fs.BigIntStats): Identity {
  return {
    dev: String(st.dev),
    ino: String(st.ino),
    size: String(st.size),
    mtimeNs: String(st.mtimeNs),
    ctimeNs: String(st.ctimeNs),
  };
}

function sameIdentity(a: Identity, b: Identity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** The file's digest, from the remembered record when the file is unchanged, else by hashing it. */
export async function digestOfLocalFile(
  layout: CacheLayout,
  file: string,
  onProgress?: ProgressCallback,
): Promise<FileDigest> {
  const abs = path.resolve(file);
  const before = identityOf(await fs.promises.stat(abs, { bigint: true }));
  const memo = known.get(abs) ?? readRecord(layout, abs);
  if (memo && sameIdentity(memo, before)) {
    known.set(abs, memo);
    return { sha256: memo.sha256, size: Number(memo.size) };
  }
  const digest = await sha256OfFile(abs, onProgress);
  const after = identityOf(await fs.promises.stat(abs, { bigint: true }));
  if (!sameIdentity(before, after)) throw new LocalFileChangedError(abs, 'while being hashed');
  const record: Record = { ...after, path: abs, sha256: digest.sha256 };
  known.set(abs, record);
  writeRecord(layout, abs, record);
  return digest;
}

/** True when the file still has the identity it had when hashed to `sha256` (one stat). */
export function stillHashesTo(file: string, sha256: string): boolean {
  const abs = path.resolve(file);
  const memo = known.get(abs);
  if (!memo || memo.sha256 !== sha256) return false;
  const st = fs.statSync(abs, { bigint: true, throwIfNoEntry: false });
  return st !== undefined && sameIdentity(memo, identityOf(st));
}

function readRecord(layout: CacheLayout, abs: string): Record | undefined {
  try {
    const text = readOwnTextOrRemove(layout.localHash(abs));
    if (text === undefined) return undefined;
    const r = JSON.parse(text) as Partial<Record>;
    if (r.path !== abs || typeof r.sha256 !== 'string' || !isSha256Hex(r.sha256)) return undefined;
    return r as Record;
  } catch {
    return undefined;
  }
}

function writeRecord(layout: CacheLayout, abs: string, record: Record): void {
  try {
    const file = layout.localHash(abs);
    ensurePrivateDir(layout.dir, path.dirname(file));
    writeOwnFileAtomically(file, JSON.stringify(record));
  } catch {
    // Only a speed-up: a read-only or full cache directory must not fail the call.
  }
}

/** The remembered digest of an unchanged file, without hashing anything; undefined if not known. */
export function rememberedDigest(layout: CacheLayout, file: string): FileDigest | undefined {
  const abs = path.resolve(file);
  const st = fs.statSync(abs, { bigint: true, throwIfNoEntry: false });
  if (!st) return undefined;
  const memo = known.get(abs) ?? readRecord(layout, abs);
  if (!memo || !sameIdentity(memo, identityOf(st))) return undefined;
  known.set(abs, memo);
  return { sha256: memo.sha256, size: Number(memo.size) };
}

/**
 * Remembers a digest computed elsewhere (e.g. while copying the file) if the file still has the
 * identity `before` it had when reading started.
 */
export function rememberDigest(layout: CacheLayout, file: string, before: fs.BigIntStats, digest: FileDigest): void {
  const abs = path.resolve(file);
  const st = fs.statSync(abs, { bigint: true, throwIfNoEntry: false });
  if (!st || !sameIdentity(identityOf(before), identityOf(st))) return;
  const record: Record = { ...identityOf(st), path: abs, sha256: digest.sha256 };
  known.set(abs, record);
  writeRecord(layout, abs, record);
}
