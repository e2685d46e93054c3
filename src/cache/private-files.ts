import fs from 'node:fs';
import path from 'node:path';
import { tempSiblingPath, unlinkQuietly } from '../blobstore/local/atomic-local-file.js';
import { ConfigurationError } from '../core/configuration-error.js';

/**
 * The download cache belongs to one user: its directories are 0700, and every file it trusts
 * (entries, `.used` markers, index and digest records, fill locks) must be a regular file owned
 * by that user, opened without following symlinks. Anything else found inside (planted by another
 * user while the tree was wider, or a symlink) is foreign: never read, never written through,
 * removed with a warning (`MEMOCALL_CACHE_FOREIGN`) and replaced.
 *
 * Where the platform has no uids (Windows), ownership is not checked.
 */

export const CACHE_FOREIGN_WARNING = 'MEMOCALL_CACHE_FOREIGN';

const DIR_MODE = 0o700;
/** Opening never follows a symlink and never blocks on a FIFO planted at the path. */
const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = fs.constants.O_NONBLOCK ?? 0;

export function currentUid(): number | undefined {
  return process.getuid?.();
}

function ownedByMe(st: fs.Stats): boolean {
  const uid = currentUid();
  return uid === undefined || st.uid === uid;
}

/** Why `st` is not a file of ours, or undefined if it is. */
export function foreignReason(st: fs.Stats, expect: 'file' | 'dir' = 'file'): string | undefined {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (expect === 'file' && !st.isFile()) return 'not a regular file';
  if (expect === 'dir' && !st.isDirectory()) return 'not a directory';
  if (!ownedByMe(st)) return `owned by uid ${st.uid}, not by uid ${currentUid()}`;
  return undefined;
}

/** Warns about a foreign file and removes it (we own its directory, so we may unlink it). */
export function removeForeign(file: string, reason: string): void {
  process.emitWarning(`download cache: ${file} is ${reason}; not trusted, removed`, { code: CACHE_FOREIGN_WARNING });
  try {
    const st = fs.lstatSync(file, { throwIfNoEntry: false });
    if (st?.isDirectory()) fs.rmSync(file, { recursive: true, force: true });
    else if (st) fs.unlinkSync(file);
  } catch {
    // removed meanwhile, or a foreign directory with foreign contents: the caller replaces or skips it
  }
}

/**
 * The cache root: created 0700 if missing; must be a directory owned by the current user (a
 * symlink to one is accepted when the link itself is ours or root's, e.g. ~/.cache on another
 * disk); group and other permissions are removed.
 */
export function ensureCacheRoot(dir: string): void {
  let link = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (link === undefined) {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: DIR_MODE });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    link = fs.lstatSync(dir);
  }
  const uid = currentUid();
  if (link.isSymbolicLink() && uid !== undefined && link.uid !== uid && link.uid !== 0)
    throw new ConfigurationError(
      `the download cache directory ${dir} is a symbolic link owned by uid ${link.uid}, not by you (uid ${uid}): set MEMOCALL_CACHE_DIR to a directory of your own`,
    );
  const st = fs.statSync(dir);
  if (!st.isDirectory()) throw new ConfigurationError(`the download cache directory ${dir} is not a directory`);
  if (uid !== undefined && st.uid !== uid)
    throw new ConfigurationError(
      `the download cache directory ${dir} is owned by uid ${st.uid}, not by you (uid ${uid}): another user's cache is never used; set MEMOCALL_CACHE_DIR to a directory of your own`,
    );
  restrictDirMode(dir, st);
}

function restrictDirMode(dir: string, st: fs.Stats): void {
  if (currentUid() !== undefined && (st.mode & 0o777) !== DIR_MODE) fs.chmodSync(dir, DIR_MODE);
}

/**
 * Creates `dir` (inside the cache root `root`) and each missing level between, all 0700; checks
 * levels that exist: a symlink or file in a directory's place is removed and replaced (warning), a
 * directory of ours is narrowed to 0700, another user's directory is a ConfigurationError naming
 * it (its contents are not ours to remove).
 */
export function ensurePrivateDir(root: string, dir: string): void {
  ensureCacheRoot(root);
  const relative = path.relative(root, dir);
  if (relative === '') return;
  if (relative.startsWith('..') || path.isAbsolute(relative))
    throw new Error(`internal: ${dir} is not inside the download cache ${root}`);
  let current = root;
  for (const part of relative.split(path.sep)) {
    current = path.join(current, part);
    ensureOneLevel(current);
  }
}

function ensureOneLevel(dir: string): void {
  for (let attempt = 0; ; attempt++) {
    const st = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (st === undefined) {
      try {
        fs.mkdirSync(dir, { mode: DIR_MODE });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 3) throw err;
      }
      continue; // check what is there now (ours, or a racing process's)
    }
    const reason = foreignReason(st, 'dir');
    if (reason === undefined) {
      restrictDirMode(dir, st);
      return;
    }
    if (st.isDirectory())
      throw new ConfigurationError(
        `the download cache holds ${dir}, ${reason}: remove it (its contents may have been planted by another user)`,
      );
    if (attempt > 3) throw new ConfigurationError(`the download cache cannot create the directory ${dir}: ${reason}`);
    removeForeign(dir, reason);
  }
}

export type OwnFileRead =
  | { kind: 'own'; data: Buffer; stats: fs.Stats }
  | { kind: 'absent' }
  | { kind: 'foreign'; reason: string };

/** Reads a file of the cache if it is a regular file of ours; never follows a symlink or blocks. */
export function readOwnFile(file: string): OwnFileRead {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'absent' };
    const st = fs.lstatSync(file, { throwIfNoEntry: false });
    if (st === undefined) return { kind: 'absent' };
    return { kind: 'foreign', reason: foreignReason(st) ?? `unreadable (${code})` };
  }
  try {
    const stats = fs.fstatSync(fd);
    const reason = foreignReason(stats);
    if (reason !== undefined) return { kind: 'foreign', reason };
    return { kind: 'own', data: fs.readFileSync(fd), stats };
  } finally {
    fs.closeSync(fd);
  }
}

/** `readOwnFile` as text; a foreign file is removed with a warning and reads as absent. */
export function readOwnTextOrRemove(file: string): string | undefined {
  const read = readOwnFile(file);
  if (read.kind === 'foreign') removeForeign(file, read.reason);
  return read.kind === 'own' ? read.data.toString('utf8') : undefined;
}

/**
 * Writes a small record of the cache atomically (temp sibling created O_EXCL, 0600, renamed over
 * whatever is there: rename replaces a symlink, it does not follow it). The directory must exist.
 */
export function writeOwnFileAtomically(file: string, data: string): void {
  const tmp = tempSiblingPath(file);
  try {
    fs.writeFileSync(tmp, data, { flag: 'wx', mode: 0o600 });
    fs.renameSync(tmp, file);
  } catch (err) {
    unlinkQuietly(tmp);
    throw err;
  }
}
