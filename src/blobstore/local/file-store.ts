import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FileDigest, ProgressCallback } from '../../core/sha256-file.js';
import { sha256 } from '../../core/sha256.js';
import type { BlobHead, BlobStore, PutOptions, VersionedBlob } from '../blob-store.js';
import { BlobNotFoundError, BlobTooLargeError, IntegrityError, PreconditionFailedError } from '../errors.js';
import { isTempName, tempSiblingPath, unlinkQuietly } from './atomic-local-file.js';
import { type ChunkOptions, DEFAULT_CHUNK_OPTIONS, copyHashed, readHashed, writeHashed } from './chunked-io.js';
import { isLockName, withObjectLock } from './file-object-lock.js';
import { directoryPathOfFileUri, fileUriSegment, objectPathOfFileUri } from './file-uri.js';
import { HEADER_BYTES, type ParsedHeader, encodeHeader, parseHeader } from './object-header.js';
import { type CollectGarbageOptions, sweepDirectory } from './temp-file-collector.js';

export interface FileBlobStoreOptions {
  /**
   * fsync each object (and its directory) before a write resolves. Off by default: memoized
   * results can be recomputed, and fsync costs milliseconds per write. Without it a machine crash
   * (not a process crash) can lose recent writes, but never exposes a partial object.
   */
  fsync?: boolean;
  /**
   * A per-object lock a waiter has seen unchanged this long (on its own monotonic clock) is broken;
   * one whose holder is provably dead on this host is broken at once. No clocks are compared.
   * Default 5000 ms.
   */
  lockStaleMs?: number;
  /**
   * Internal, for tests: the chunking of large transfers (bytes per fs call, and the size up to
   * which synchronous calls are used), so the > 2 GiB paths can be exercised with small data.
   */
  chunking?: Partial<ChunkOptions>;
  /**
   * Internal: the opportunistic removal of dead writers' temp files after writes (at most one
   * directory per `intervalMs`, at most `maxEntries` entries read). `false` switches it off.
   */
  tempSweep?: false | { intervalMs?: number; maxEntries?: number; maxAgeMs?: number };
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
 * Every object file starts with a header holding the length and SHA-256 of its bytes
 * (object-header.ts), written into the temp file with them; full reads (`get`, `getVersioned`,
 * `getFile`) check it and throw `IntegrityError` on a mismatch. Files without a header (written
 * before it existed, or by hand) read unverified.
 *
 * Small objects use synchronous fs calls: on the memo-hit path one `get` of a ~200-byte file takes
 * ~5 µs this way against ~100 µs through fs.promises (a thread-pool round trip per call). Larger
 * objects are read and written asynchronously in chunks (chunked-io.ts: no 2 GiB limit per call),
 * so the event loop is never blocked long.
 *
 * Writers killed mid-write leave temp files; after a write, the store now and then removes those
 * of dead writers from the directory it wrote to (temp-file-collector.ts, which also has the
 * whole-store `collectFileStoreGarbage`).
 */
export class FileBlobStore implements BlobStore {
  readonly #fsync: boolean;
  readonly #lockStaleMs: number;
  readonly #chunking: ChunkOptions;
  readonly #sweep: { intervalMs: number; maxEntries: number; maxAgeMs?: number } | undefined;
  #lastSweep = 0;
  readonly #sweptDirectories = new Map<string, number>();

  constructor(options: FileBlobStoreOptions = {}) {
    this.#fsync = options.fsync ?? false;
    this.#lockStaleMs = options.lockStaleMs ?? 5000;
    this.#chunking = { ...DEFAULT_CHUNK_OPTIONS, ...options.chunking };
    if (!(this.#chunking.chunkBytes >= 1 && this.#chunking.chunkBytes < 2 ** 31)) {
      throw new TypeError(`FileBlobStore: chunking.chunkBytes must be in [1, 2^31), got ${this.#chunking.chunkBytes}`);
    }
    this.#sweep =
      options.tempSweep === false ? undefined : { intervalMs: 1000, maxEntries: 1000, ...options.tempSweep };
  }

  async get(uri: string): Promise<Uint8Array> {
    return (await this.getVersioned(uri)).data;
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
      const header = parseHeader(uri, readFirstBytes(fd), Number(st.size));
      const offset = header.kind === 'checksummed' ? HEADER_BYTES : 0;
      // Memory of its own (not Node's shared Buffer pool, which a caller keeping `.buffer` would
      // otherwise retain or see), returned as a plain Uint8Array like other stores.
      const data = new Uint8Array(allocateForObject(uri, header.size));
      const hash = header.kind === 'checksummed' ? createHash('sha256') : undefined;
      // A published version is immutable: a short read means the file was damaged.
      const n = await readHashed(fd, data, offset, hash, this.#chunking);
      if (n !== header.size) throw new IntegrityError(uri, `${header.size} bytes`, `${n} bytes`);
      if (hash && header.kind === 'checksummed') verify(uri, header.sha256, hash.digest('hex'));
      return { data, ...headOf(st, header) };
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Size and digest come from the object's header (one read of its first bytes). A damaged header
   * is not reported here (the file's own size, no sha256): full reads throw for it.
   */
  async head(uri: string): Promise<BlobHead | null> {
    const file = objectPathOfFileUri(uri);
    if (statOrUndefined(file) === undefined) return null; // the common miss: no exception
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch (err) {
      if (isNotFound(err)) return null; // deleted in between
      throw err;
    }
    try {
      const st = fs.fstatSync(fd, { bigint: true });
      if (!st.isFile()) return null;
      let header: ParsedHeader;
      try {
        header = parseHeader(uri, readFirstBytes(fd), Number(st.size));
      } catch (err) {
        if (!(err instanceof IntegrityError)) throw err;
        header = { kind: 'plain', size: Number(st.size) };
      }
      return headOf(st, header);
    } finally {
      fs.closeSync(fd);
    }
  }

  async put(uri: string, data: Uint8Array, opts: PutOptions = {}): Promise<{ etag: string }> {
    const target = objectPathOfFileUri(uri);
    checkOptions(opts);
    failEarly(uri, target, opts);
    const temp = await this.#writeTemp(uri, target, opts, async (fd) => {
      let digest: Uint8Array;
      if (data.byteLength <= this.#chunking.syncLimit) {
        digest = sha256(data);
        await writeHashed(fd, data, HEADER_BYTES, undefined, this.#chunking);
      } else {
        const hash = createHash('sha256');
        await writeHashed(fd, data, HEADER_BYTES, hash, this.#chunking);
        digest = hash.digest();
      }
      await writeHashed(fd, encodeHeader(data.byteLength, digest), 0, undefined, this.#chunking);
    });
    return this.#publish(uri, target, temp, opts);
  }

  async putFile(localPath: string, uri: string, opts: PutOptions = {}): Promise<{ etag: string }> {
    const target = objectPathOfFileUri(uri);
    checkOptions(opts);
    failEarly(uri, target, opts);
    const source = await fs.promises.open(localPath, 'r');
    try {
      const { size } = await source.stat();
      const temp = await this.#writeTemp(uri, target, opts, async (fd) => {
        const hash = createHash('sha256');
        // What was copied is what the header describes, even if the local file changes meanwhile.
        const copied = await copyHashed(source.fd, 0, size, fd, HEADER_BYTES, hash, this.#chunking);
        fs.ftruncateSync(fd, HEADER_BYTES + copied);
        await writeHashed(fd, encodeHeader(copied, hash.digest()), 0, undefined, this.#chunking);
      });
      return await this.#publish(uri, target, temp, opts);
    } finally {
      await source.close();
    }
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
    await this.getFileWithDigest(uri, localPath);
  }

  /**
   * `getFile` that also returns the SHA-256 and size of the bytes written (computed while copying,
   * so a caller that needs them, such as the download cache, reads the object once).
   */
  async getFileWithDigest(uri: string, localPath: string, onProgress?: ProgressCallback): Promise<FileDigest> {
    const fd = openForRead(uri, objectPathOfFileUri(uri));
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new BlobNotFoundError(uri);
      const header = parseHeader(uri, readFirstBytes(fd), st.size);
      await fs.promises.mkdir(path.dirname(localPath), { recursive: true });
      const tmp = tempSiblingPath(localPath);
      const out = fs.openSync(tmp, 'wx');
      try {
        let digest: FileDigest;
        try {
          const hash = createHash('sha256');
          const offset = header.kind === 'checksummed' ? HEADER_BYTES : 0;
          const n = await copyHashed(fd, offset, header.size, out, 0, hash, this.#chunking, onProgress);
          if (n !== header.size) throw new IntegrityError(uri, `${header.size} bytes`, `${n} bytes`);
          digest = { sha256: hash.digest('hex'), size: n };
          if (header.kind === 'checksummed') verify(uri, header.sha256, digest.sha256);
        } finally {
          fs.closeSync(out);
        }
        fs.renameSync(tmp, localPath);
        return digest;
      } catch (err) {
        unlinkQuietly(tmp);
        throw err;
      }
    } finally {
      fs.closeSync(fd);
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
    this.#maybeSweep(path.dirname(target));
    return { etag: etagOf(stat) };
  }

  /**
   * Removes dead writers' temp files from `dir`, rate-limited: at most one directory per
   * interval per store, and each directory at most once per SWEEP_AGAIN_MS. Never fails a write.
   */
  #maybeSweep(dir: string): void {
    const sweep = this.#sweep;
    if (sweep === undefined) return;
    const now = Date.now();
    if (now - this.#lastSweep < sweep.intervalMs) return;
    const last = this.#sweptDirectories.get(dir);
    if (last !== undefined && now - last < SWEEP_AGAIN_MS) return;
    this.#lastSweep = now;
    if (this.#sweptDirectories.size >= 1024) this.#sweptDirectories.clear();
    this.#sweptDirectories.set(dir, now);
    const options: CollectGarbageOptions = sweep.maxAgeMs === undefined ? {} : { maxAgeMs: sweep.maxAgeMs };
    try {
      sweepDirectory(dir, sweep.maxEntries, options);
    } catch {
      // best effort: the next sweep or `memocall gc` tries again
    }
  }
}

/** A directory swept by this process is not swept again for this long. */
const SWEEP_AGAIN_MS = 10 * 60 * 1000;

interface TempVersion {
  tmp: string;
  stat: fs.BigIntStats;
}

/**
 * Etag from the version's inode, mtime and size: no content hash (it must change when the same
 * bytes are written again) and free to compute (one stat). Every write creates a new inode.
 */
function etagOf(st: fs.BigIntStats): string {
  return `${st.ino.toString(36)}-${st.mtimeNs.toString(36)}-${st.size.toString(36)}`;
}

function headOf(st: fs.BigIntStats, header: ParsedHeader): BlobHead {
  const head: BlobHead = {
    size: header.size,
    etag: etagOf(st),
    lastModified: new Date(Number(st.mtimeNs / 1_000_000n)),
  };
  if (header.kind === 'checksummed') head.sha256 = header.sha256;
  return head;
}

function verify(uri: string, expected: string, actual: string): void {
  if (expected !== actual) throw new IntegrityError(uri, expected, actual);
}

/** The first bytes of a file, enough for its header (fewer if the file is shorter). */
function readFirstBytes(fd: number): Uint8Array {
  const first = Buffer.allocUnsafe(HEADER_BYTES);
  let n = 0;
  while (n < HEADER_BYTES) {
    const got = fs.readSync(fd, first, n, HEADER_BYTES - n, n);
    if (got === 0) break;
    n += got;
  }
  return first.subarray(0, n);
}

/** A buffer for an object's bytes; a clear error naming the object when it cannot be held in memory. */
function allocateForObject(uri: string, size: number): ArrayBuffer {
  try {
    const buf = Buffer.allocUnsafeSlow(size);
    return buf.buffer as ArrayBuffer;
  } catch (err) {
    throw new BlobTooLargeError(uri, size, { cause: err });
  }
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
