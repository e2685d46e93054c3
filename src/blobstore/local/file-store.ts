import fs from 'node:fs';
import path from 'node:path';
import type { BlobHead, BlobStore, PutOptions, VersionedBlob } from '../blob-store.js';
import { BlobNotFoundError, PreconditionFailedError } from '../errors.js';
import { copyLocalFileAtomically, isTempName, tempSiblingPath, unlinkQuietly } from './atomic-local-file.js';
import { isLockName, withObjectLock } from './file-object-lock.js';
import { directoryPathOfFileUri, fileUriSegment, objectPathOfFileUri } from './file-uri.js';

export interface FileBlobStoreOptions {
  /**
   * fsync each object (and its directory) before a write resolves. Off by default: memoized
   * results can be recomputed, and fsync costs milliseconds per write. Without it a machine crash
   * (not a process crash) can lose recent writes, but never exposes a partial object.
   */
  fsync?: boolean;
  /** A per-object lock older than this belongs to a dead process and is broken. Default 5000 ms. */
  lockStaleMs?: number;
}

/**
 * The blob store of `file:///absolute/path` URIs: one object per local file.
 *
 * Every write goes to a hidden temp file in the object's directory, which is then hard-linked
 * into place (`ifNoneMatch: '*'`: link fails if anything is there, an atomic create-if-absent
 * across processes) or renamed over the object under a short per-object lock (`ifMatch`, whose
 * check needs it, and unconditional puts and deletes, so that they are atomic with respect to a
 * compare-and-swap). An object's inode is never modified once visible, so a reader holding an
 * fd sees one whole version, and no reader ever takes a lock.
 *
 * Small objects use synchronous fs calls: on the memo-hit path one `get` of a ~200-byte file takes
 * ~5 µs this way against ~100 µs through fs.promises (a thread-pool round trip per call). Objects
 * above SYNC_IO_LIMIT are read and written asynchronously so the event loop is never blocked long.
 */
export class FileBlobStore implements BlobStore {
  readonly #fsync: boolean;
  readonly #lockStaleMs: number;

  constructor(options: FileBlobStoreOptions = {}) {
    this.#fsync = options.fsync ?? false;
    this.#lockStaleMs = options.lockStaleMs ?? 5000;
  }

  async get(uri: string): Promise<Uint8Array> {
    const fd = openForRead(uri, objectPathOfFileUri(uri));
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new BlobNotFoundError(uri);
      return await readAll(fd, st.size);
    } finally {
      fs.closeSync(fd);
    }
  }

  async tryGet(uri: string): Promise<Uint8Array | undefined> {
    // A stat that reports absence without throwing: a miss costs ~2 µs instead of two exceptions.
    if (statOrUndefined(objectPathOfFileUri(uri)) === undefined) return undefined;
    try {
      return await this.get(uri);
    } catch (err) {
      if (err instanceof BlobNotFoundError) return undefined; // deleted in between
      throw err;
    }
  }

  async getVersioned(uri: string): Promise<VersionedBlob> {
    const fd = openForRead(uri, objectPathOfFileUri(uri));
    try {
      // Same fd for stat and read: the etag belongs to exactly these bytes.
      const st = fs.fstatSync(fd, { bigint: true });
      if (!st.isFile()) throw new BlobNotFoundError(uri);
      const data = await readAll(fd, Number(st.size));
      return { data, ...headOf(st) };
    } finally {
      fs.closeSync(fd);
    }
  }

  async head(uri: string): Promise<BlobHead | null> {
    const st = statOrUndefined(objectPathOfFileUri(uri));
    return st === undefined ? null : headOf(st);
  }

  async put(uri: string, data: Uint8Array, opts: PutOptions = {}): Promise<{ etag: string }> {
    const target = objectPathOfFileUri(uri);
    checkOptions(opts);
    failEarly(uri, target, opts);
    const temp = await this.#writeTemp(uri, target, opts, (fd) => writeAll(fd, data));
    return this.#publish(uri, target, temp, opts);
  }

  async putFile(localPath: string, uri: string, opts: PutOptions = {}): Promise<{ etag: string }> {
    const target = objectPathOfFileUri(uri);
    checkOptions(opts);
    failEarly(uri, target, opts);
    const temp = await this.#writeTemp(uri, target, opts, async (_fd, tmp) => {
      await fs.promises.copyFile(localPath, tmp, fs.constants.COPYFILE_FICLONE);
    });
    return this.#publish(uri, target, temp, opts);
  }

  async delete(uri: string): Promise<void> {
    const target = objectPathOfFileUri(uri);
    if (statOrUndefined(target) === undefined) return; // absent (or only a "prefix"): nothing to do
    try {
      await withObjectLock(target, this.#lockStaleMs, () => fs.unlinkSync(target));
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return; // deleted meanwhile, directory and all
      throw err;
    }
  }

  async getFile(uri: string, localPath: string): Promise<void> {
    const source = objectPathOfFileUri(uri);
    try {
      await copyLocalFileAtomically(source, localPath);
    } catch (err) {
      if (isNotFound(err) && !statOrUndefined(source)) throw new BlobNotFoundError(uri, { cause: err });
      throw err;
    }
  }

  /**
   * Depth-first walk with each directory's entries sorted by their URI text, a directory counting
   * as `name/`: the concatenation is then in global lexicographic order without collecting the
   * whole tree. Listed URIs keep the prefix's own spelling up to its last `/` (so every result
   * starts with `prefix`) and percent-encode the rest only where needed (see `fileUriSegment`).
   */
  async *list(prefix: string): AsyncIterable<string> {
    const dirUri = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    yield* walk(directoryPathOfFileUri(dirUri), dirUri, prefix);
  }

  /** Fills a fresh temp sibling of `target` and stamps it; returns its path and stat. */
  async #writeTemp(
    uri: string,
    target: string,
    opts: PutOptions,
    fill: (fd: number, tmp: string) => void | Promise<void>,
  ): Promise<TempVersion> {
    const tmp = tempSiblingPath(target);
    let fd: number;
    try {
      fd = fs.openSync(tmp, 'wx');
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
      // No directory: so no object, which an ifMatch write needs. Don't create directories for it.
      if (opts.ifMatch !== undefined) throw new PreconditionFailedError(uri, { ifMatch: opts.ifMatch }, { cause: err });
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fd = fs.openSync(tmp, 'wx');
    }
    try {
      await fill(fd, tmp);
      stampUniqueMtime(fd);
      if (this.#fsync) fs.fsyncSync(fd);
      const stat = fs.fstatSync(fd, { bigint: true });
      return { tmp, stat };
    } catch (err) {
      unlinkQuietly(tmp);
      throw err;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Makes the temp version visible at `target` as `opts` demands; the temp file is gone afterwards. */
  async #publish(uri: string, target: string, temp: TempVersion, opts: PutOptions): Promise<{ etag: string }> {
    const { tmp } = temp;
    let stat = temp.stat;
    try {
      if (opts.ifNoneMatch === '*') {
        // link() fails with EEXIST if anything is there: an atomic create-if-absent that other
        // processes (and NFS clients) honour, and the object appears with all its bytes at once.
        try {
          fs.linkSync(tmp, target);
        } catch (err) {
          if (errorCode(err) === 'EEXIST') throw new PreconditionFailedError(uri, { ifNoneMatch: '*' }, { cause: err });
          throw err;
        }
        unlinkQuietly(tmp);
      } else if (opts.ifMatch === undefined && tryLink(tmp, target)) {
        // An unconditional write of a new object: link() creates it atomically, and with nothing
        // there no compare-and-swap can be in progress on it, so no lock is needed.
        unlinkQuietly(tmp);
      } else {
        // Replacing writes (ifMatch and unconditional) and deletes take the object's lock, so
        // a compare-and-swap cannot clobber a version that landed between its check and its rename.
        const expected = opts.ifMatch;
        stat = await withObjectLock(target, this.#lockStaleMs, () => {
          const current = statOrUndefined(target);
          if (expected !== undefined && (current === undefined || etagOf(current) !== expected)) {
            throw new PreconditionFailedError(uri, { ifMatch: expected });
          }
          const next = current === undefined ? temp.stat : laterThan(tmp, temp.stat, current);
          fs.renameSync(tmp, target);
          return next;
        });
      }
    } catch (err) {
      unlinkQuietly(tmp);
      throw err;
    }
    if (this.#fsync) fsyncDirectory(path.dirname(target));
    return { etag: etagOf(stat) };
  }
}

interface TempVersion {
  tmp: string;
  stat: fs.BigIntStats;
}

/** Above this size reads and writes go through the thread pool instead of blocking the event loop. */
const SYNC_IO_LIMIT = 256 * 1024;

/**
 * Etag from the version's inode, mtime and size: no content hash (it must change when the same
 * bytes are written again) and free to compute (one stat). Every write creates a new inode.
 */
function etagOf(st: fs.BigIntStats): string {
  return `${st.ino.toString(36)}-${st.mtimeNs.toString(36)}-${st.size.toString(36)}`;
}

function headOf(st: fs.BigIntStats): BlobHead {
  return { size: Number(st.size), etag: etagOf(st), lastModified: new Date(Number(st.mtimeNs / 1_000_000n)) };
}

/**
 * ext4 hands a freed inode number straight to the next new file (a rename-over loop alternates
 * between two inodes) and its timestamps tick coarsely, so ino+mtime+size can repeat: an old
 * etag would then match a newer version and a stale compare-and-swap would succeed (ABA).
 * Setting mtime ourselves with a random sub-millisecond part makes a repeat a ~1 in 4000 chance
 * even then; `laterThan` rules it out for writes that replace an object. One futimes, ~1 µs.
 */
function stampUniqueMtime(fd: number): void {
  const seconds = (Date.now() + Math.random()) / 1000;
  fs.futimesSync(fd, seconds, seconds);
}

/** Under the lock: make the new version's mtime strictly later than the one it replaces. */
function laterThan(tmp: string, st: fs.BigIntStats, current: fs.BigIntStats): fs.BigIntStats {
  let stat = st;
  for (let bumpUs = 1; stat.mtimeNs <= current.mtimeNs; bumpUs *= 2) {
    const seconds = Number(current.mtimeNs) / 1e9 + bumpUs / 1e6;
    fs.utimesSync(tmp, seconds, seconds);
    stat = fs.statSync(tmp, { bigint: true });
  }
  return stat;
}

function checkOptions(opts: PutOptions): void {
  if (opts.ifNoneMatch !== undefined && opts.ifMatch !== undefined) {
    throw new TypeError('put: give ifNoneMatch or ifMatch, not both');
  }
  if (opts.ifNoneMatch !== undefined && opts.ifNoneMatch !== '*') {
    throw new TypeError(`put: ifNoneMatch must be '*', got ${String(opts.ifNoneMatch)}`);
  }
}

/**
 * A condition that already fails needs no temp file: writing and unlinking one costs ~10x a stat
 * (block allocation and release), and losers of a race are common. Only an optimization: the
 * link / the check under the lock decides.
 */
function failEarly(uri: string, target: string, opts: PutOptions): void {
  if (opts.ifNoneMatch === '*') {
    if (statOrUndefined(target) !== undefined) throw new PreconditionFailedError(uri, { ifNoneMatch: '*' });
  } else if (opts.ifMatch !== undefined) {
    const current = statOrUndefined(target);
    if (current === undefined || etagOf(current) !== opts.ifMatch)
      throw new PreconditionFailedError(uri, { ifMatch: opts.ifMatch });
  }
}

function openForRead(uri: string, file: string): number {
  try {
    // O_NONBLOCK: a FIFO at the path must not hang the process; no effect on regular files.
    return fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    if (isNotFound(err)) throw new BlobNotFoundError(uri, { cause: err });
    throw err;
  }
}

/** link(tmp, target) if nothing is at target; false when something is. */
function tryLink(tmp: string, target: string): boolean {
  try {
    fs.linkSync(tmp, target);
    return true;
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false;
    throw err;
  }
}

function statOrUndefined(file: string): fs.BigIntStats | undefined {
  let st: fs.BigIntStats | undefined;
  try {
    st = fs.statSync(file, { bigint: true, throwIfNoEntry: false });
  } catch (err) {
    if (errorCode(err) === 'ENOTDIR') return undefined;
    throw err;
  }
  return st?.isFile() ? st : undefined;
}

/**
 * Reads `size` bytes into memory of its own (not Node's shared Buffer pool, which a caller
 * keeping `.buffer` would otherwise retain or see), returned as a plain Uint8Array like other stores.
 */
async function readAll(fd: number, size: number): Promise<Uint8Array> {
  const buf = Buffer.allocUnsafeSlow(size);
  let done = 0;
  while (done < size) {
    const n =
      size <= SYNC_IO_LIMIT
        ? fs.readSync(fd, buf, done, size - done, done)
        : await new Promise<number>((resolve, reject) =>
            fs.read(fd, buf, done, size - done, done, (err, bytes) => (err ? reject(err) : resolve(bytes))),
          );
    if (n === 0) break; // cannot happen for a published (immutable) version; don't loop forever
    done += n;
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, done);
}

async function writeAll(fd: number, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.byteLength) {
    done +=
      data.byteLength <= SYNC_IO_LIMIT
        ? fs.writeSync(fd, data, done, data.byteLength - done, done)
        : await new Promise<number>((resolve, reject) =>
            fs.write(fd, data, done, data.byteLength - done, done, (err, bytes) =>
              err ? reject(err) : resolve(bytes),
            ),
          );
  }
}

function fsyncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

interface ListEntry {
  key: string; // URI text; directories end with '/'
  name: string;
  isDirectory: boolean;
}

async function* walk(dirPath: string, dirUri: string, prefix: string): AsyncGenerator<string> {
  let dirents: fs.Dirent[];
  try {
    dirents = await fs.promises.readdir(dirPath, { withFileTypes: true });
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return; // nothing under this prefix
    throw err;
  }
  const entries: ListEntry[] = [];
  for (const d of dirents) {
    if (isTempName(d.name) || isLockName(d.name)) continue;
    let isDirectory = d.isDirectory();
    let isFile = d.isFile();
    if (d.isSymbolicLink() || !hasKnownType(d)) {
      // A symlink, or a filesystem that doesn't report types: a link to a file is an object,
      // links to directories are not followed (they could form cycles).
      const st = await fs.promises.stat(path.join(dirPath, d.name)).catch(() => undefined);
      isFile = st?.isFile() ?? false;
      isDirectory = !d.isSymbolicLink() && (st?.isDirectory() ?? false);
    }
    if (!isFile && !isDirectory) continue;
    const key = dirUri + fileUriSegment(d.name) + (isDirectory ? '/' : '');
    // Only entries that can hold URIs starting with `prefix` (the prefix may end mid-name).
    if (isDirectory ? !(key.startsWith(prefix) || prefix.startsWith(key)) : !key.startsWith(prefix)) continue;
    entries.push({ key, name: d.name, isDirectory });
  }
  entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const e of entries) {
    if (e.isDirectory) yield* walk(path.join(dirPath, e.name), e.key, prefix);
    else yield e.key;
  }
}

function hasKnownType(d: fs.Dirent): boolean {
  return (
    d.isFile() ||
    d.isDirectory() ||
    d.isSymbolicLink() ||
    d.isFIFO() ||
    d.isSocket() ||
    d.isBlockDevice() ||
    d.isCharacterDevice()
  );
}

function isNotFound(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}
