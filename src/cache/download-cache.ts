import fs from 'node:fs';
import path from 'node:path';
import type { BlobHead, BlobStore } from '../blobstore/blob-store.js';
import { BlobNotFoundError } from '../blobstore/errors.js';
import { FileBlobStore } from '../blobstore/local/file-store.js';
import { objectPathOfFileUri } from '../blobstore/local/file-uri.js';
import { lookupBlobStore } from '../blobstore/registry.js';
import { CacheLayout, isSha256Hex, resolveCacheDir } from './cache-layout.js';
import {
  entryModeFor,
  entryState,
  publishSealed,
  removeEntry,
  restrictEntryMode,
  sealFile,
  touchUsed,
} from './content-entry.js';
import { ConfigurationError } from '../core/configuration-error.js';
import { sha256OfFile, type FileDigest } from '../core/sha256-file.js';
import { CacheIntegrityError } from './errors.js';
import { enforceCap } from './eviction.js';
import { copyAndHash } from './copy-and-hash.js';
import { withFillLock, type FillLockOptions } from './fill-lock.js';
import { digestOfLocalFile, rememberDigest, rememberedDigest } from './local-file-digest.js';
import { createPartialFillDir, removeAbandonedPartialFills } from './partial-fills.js';
import { ensureCacheRoot, ensurePrivateDir } from './private-files.js';
import { startProgress, type ProgressOptions } from './progress.js';
import { readIndex, writeIndex } from './uri-index.js';

export interface DownloadCacheOptions {
  /** The cache directory. Default `MEMOCALL_CACHE_DIR`, else `~/.cache/memocall`. */
  dir?: string;
  /**
   * After each fill, least recently used entries are removed until the content takes at most this
   * many bytes (the entry just filled is kept even if it alone is larger). Default
   * `MEMOCALL_CACHE_MAX_BYTES`, else 32 GiB. `Infinity` turns eviction off.
   */
  maxBytes?: number;
  /** Cross-process fill lock tuning (see FillLockOptions). */
  lock?: FillLockOptions;
  /** Progress bar settings for transfers (see ProgressOptions). */
  progress?: ProgressOptions;
}

export const CACHE_MAX_BYTES_ENV = 'MEMOCALL_CACHE_MAX_BYTES';
const DEFAULT_MAX_BYTES = 32 * 1024 ** 3;

/** A verified, read-only local copy of some content. Never write to `path`. */
export interface CachedFile {
  path: string;
  sha256: string;
  size: number;
}

/** How a fetch was served: from the cache, by waiting for another process's fill, or by downloading. */
export type FetchOutcome = 'hit' | 'waited' | 'downloaded';

export interface FetchOptions {
  /** The content the URI must have (SHA-256, hex). Known content is looked up without touching the store. */
  sha256?: string;
  /** Its size in bytes, checked too. */
  size?: number;
}

/**
 * The machine-global download cache: remote objects become verified, read-only local files,
 * stored once per content (SHA-256) and found again by content or by URI + version.
 * Safe for any number of processes at once: one of them downloads, the others wait for it.
 * Private to one user: directories 0700, entries never more readable than their source, files
 * of anyone else (or symlinks) inside never trusted (private-files.ts); a cache directory owned
 * by another user is a ConfigurationError.
 */
export class DownloadCache {
  readonly layout: CacheLayout;
  readonly maxBytes: number;
  readonly #lock: FillLockOptions;
  readonly #progress: ProgressOptions;
  #prepared = false;

  constructor(options: DownloadCacheOptions = {}) {
    this.layout = new CacheLayout(resolveCacheDir(options.dir));
    const envMax = process.env[CACHE_MAX_BYTES_ENV];
    this.maxBytes = options.maxBytes ?? (envMax ? Number(envMax) : DEFAULT_MAX_BYTES);
    if (!(this.maxBytes >= 0))
      throw new ConfigurationError(
        `maxBytes must be a number of bytes >= 0, got ${String(options.maxBytes ?? envMax)}`,
      );
    this.#lock = options.lock ?? {};
    this.#progress = options.progress ?? {};
  }

  get dir(): string {
    return this.layout.dir;
  }

  /**
   * Checks the cache directory once (owned by this user, else ConfigurationError; narrowed to
   * 0700; created if missing). Every operation does it; call it before using `layout` directly.
   */
  prepare(): void {
    if (this.#prepared) return;
    ensureCacheRoot(this.layout.dir);
    this.#prepared = true;
  }

  /**
   * The cached file with this content, if there is an intact one (one stat). An entry whose
   * metadata shows it was modified is re-hashed: kept if still right, removed if not.
   */
  async lookup(sha256: string, size?: number): Promise<CachedFile | undefined> {
    if (!isSha256Hex(sha256)) return undefined;
    this.prepare();
    const state = entryState(this.layout, sha256, size);
    if (state.kind === 'ok') {
      touchUsed(this.layout, sha256);
      return { path: this.layout.content(sha256), sha256, size: state.size };
    }
    if (state.kind === 'absent') return undefined;
    return this.#recheck(sha256, size);
  }

  /** Downloads `uri` into the cache unless its content is already there; returns the local copy. */
  async fetch(uri: string, options: FetchOptions = {}): Promise<CachedFile> {
    return (await this.fetchWithOutcome(uri, options)).file;
  }

  /** `fetch`, also telling whether this call downloaded, waited for another process, or hit. */
  async fetchWithOutcome(
    uri: string,
    options: FetchOptions = {},
  ): Promise<{ file: CachedFile; outcome: FetchOutcome }> {
    const expected = options.sha256?.toLowerCase();
    if (expected !== undefined && !isSha256Hex(expected))
      throw new ConfigurationError(`sha256 must be 64 hex digits, got ${options.sha256}`);
    this.prepare();
    const known = expected ? await this.lookup(expected, options.size) : undefined;
    if (known) return { file: known, outcome: 'hit' };

    const store = lookupBlobStore(uri);
    let head: BlobHead | undefined;
    if (!expected) {
      head = (await store.head(uri)) ?? undefined;
      if (!head) throw new BlobNotFoundError(uri);
      const hit = await this.#byIndex(uri, head.etag);
      if (hit) return { file: hit, outcome: 'hit' };
    }
    const lookAgain = async (): Promise<{ file: CachedFile; outcome: FetchOutcome } | undefined> => {
      const file = expected ? await this.lookup(expected, options.size) : await this.#byIndex(uri, head!.etag);
      return file ? { file, outcome: 'waited' } : undefined;
    };
    const lockPath = this.layout.lock(expected ? { sha256: expected } : { uri });
    ensurePrivateDir(this.layout.dir, this.layout.locksRoot);
    const result = await withFillLock(
      lockPath,
      lookAgain,
      async () => ({
        file: await this.#fill(uri, store, expected, options.size, head),
        outcome: 'downloaded' as const,
      }),
      this.#lock,
    );
    return result;
  }

  /**
   * Copies a local file into the cache (the kernel copies while the source is hashed) and returns
   * the entry; a file already there (by its remembered digest) is not copied again.
   */
  async add(localPath: string): Promise<CachedFile> {
    this.prepare();
    // The entry is never more readable than this source (a 0600 file stays private).
    const sourceMode = entryModeFor(Number((await fs.promises.stat(localPath)).mode));
    const remembered = rememberedDigest(this.layout, localPath);
    const present = remembered && (await this.lookup(remembered.sha256, remembered.size));
    if (present) {
      restrictEntryMode(this.layout, present.sha256, sourceMode);
      return present;
    }
    const tmpDir = await createPartialFillDir(this.layout);
    try {
      const target = path.join(tmpDir, 'data');
      const before = await fs.promises.stat(localPath, { bigint: true });
      const progress = startProgress(`⇡ ${localPath}`, Number(before.size), this.#progress);
      let digest: FileDigest;
      try {
        digest = await copyAndHash(localPath, target, (n) => progress.update(n));
      } finally {
        progress.stop();
      }
      rememberDigest(this.layout, localPath, before, digest);
      const existing = await this.lookup(digest.sha256, digest.size);
      if (existing) {
        restrictEntryMode(this.layout, existing.sha256, sourceMode);
        return existing;
      }
      sealFile(target, sourceMode);
      const file = { path: publishSealed(this.layout, target, digest.sha256, digest.size, sourceMode), ...digest };
      this.#enforceCap(digest.sha256);
      return file;
    } finally {
      await fs.promises.rm(tmpDir, { recursive: true, force: true });
    }
  }

  /** Records that `uri` at version `etag` holds this content (after an upload through the cache). */
  remember(uri: string, etag: string, file: Pick<CachedFile, 'sha256' | 'size'>): void {
    this.prepare();
    writeIndex(this.layout, { uri, etag, sha256: file.sha256, size: file.size });
  }

  /** The SHA-256 and size of a local file, remembered across processes while the file is unchanged. */
  digestOfLocalFile(localPath: string): Promise<FileDigest> {
    this.prepare();
    return digestOfLocalFile(this.layout, localPath);
  }

  async #byIndex(uri: string, etag: string): Promise<CachedFile | undefined> {
    const record = readIndex(this.layout, uri);
    if (!record || record.etag !== etag) return undefined;
    return this.lookup(record.sha256, record.size);
  }

  /** An entry whose metadata changed: keep it if its bytes are still right, else drop it. */
  async #recheck(sha256: string, size: number | undefined): Promise<CachedFile | undefined> {
    const file = this.layout.content(sha256);
    let digest: FileDigest;
    try {
      digest = await sha256OfFile(file);
    } catch {
      return undefined;
    }
    if (digest.sha256 === sha256 && (size === undefined || digest.size === size)) {
      try {
        sealFile(file, fs.lstatSync(file).mode);
        touchUsed(this.layout, sha256);
        return { path: file, sha256, size: digest.size };
      } catch {
        // cannot re-seal (not ours?): treat as bad
      }
    }
    process.emitWarning(`download cache entry ${sha256} was modified on disk; removed and fetched again`, {
      code: 'MEMOCALL_CACHE_CORRUPT',
    });
    removeEntry(this.layout, sha256);
    return undefined;
  }

  async #fill(
    uri: string,
    store: BlobStore,
    expected: string | undefined,
    expectedSize: number | undefined,
    head: BlobHead | undefined,
  ): Promise<CachedFile> {
    // One retry: a transfer can be corrupted in flight; a second mismatch means the object is wrong.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#fillOnce(uri, store, expected, expectedSize, head);
      } catch (err) {
        if (!(err instanceof CacheIntegrityError) || attempt >= 2) throw err;
      }
    }
  }

  async #fillOnce(
    uri: string,
    store: BlobStore,
    expected: string | undefined,
    expectedSize: number | undefined,
    knownHead: BlobHead | undefined,
  ): Promise<CachedFile> {
    const before = knownHead ?? (await store.head(uri)) ?? undefined;
    if (!before) throw new BlobNotFoundError(uri);
    const tmpDir = await createPartialFillDir(this.layout);
    const progress = startProgress(`⇣ ${uri}`, before.size, this.#progress);
    try {
      const target = path.join(tmpDir, 'data');
      let digest: FileDigest;
      // A remote object has no mode: its entry is the owner's only. A file:// object keeps at most its own.
      let mode = entryModeFor(undefined);
      if (store instanceof FileBlobStore) {
        const source = objectPathOfFileUri(uri);
        digest = await copyLocalObject(uri, source, target, (n) => progress.update(n));
        mode = entryModeFor(fs.statSync(source, { throwIfNoEntry: false })?.mode ?? 0);
      } else {
        const watcher = watchDirectoryBytes(tmpDir, (n) => progress.update(n));
        try {
          await store.getFile(uri, target);
        } finally {
          watcher.stop();
        }
        digest = await sha256OfFile(target);
      }
      if (expected !== undefined && digest.sha256 !== expected)
        throw new CacheIntegrityError(uri, `sha256 ${expected}`, `sha256 ${digest.sha256}`);
      if (expectedSize !== undefined && digest.size !== expectedSize)
        throw new CacheIntegrityError(uri, `${expectedSize} bytes`, `${digest.size} bytes`);
      sealFile(target, mode);
      const file = { path: publishSealed(this.layout, target, digest.sha256, digest.size, mode), ...digest };
      // Index the version only if it did not change during the transfer (then these are its bytes).
      const after = await store.head(uri);
      if (after?.etag === before.etag && after.size === digest.size) this.remember(uri, before.etag, digest);
      this.#enforceCap(digest.sha256);
      return file;
    } finally {
      progress.stop();
      await fs.promises.rm(tmpDir, { recursive: true, force: true });
    }
  }

  /** After each fill: partial fills of dead writers go; with a cap, LRU entries too (fills in progress count). */
  #enforceCap(keep: string): void {
    if (this.maxBytes === Infinity) removeAbandonedPartialFills(this.layout);
    else enforceCap(this.layout, this.maxBytes, new Set([keep]));
  }
}

/**
 * A file:// object is a local file already, but it starts with the file store's checksum header:
 * the store copies its bytes out, hashing them on the way and checking them against the header
 * (one read of the object). `source` (its path) only serves the caller's own checks.
 */
async function copyLocalObject(
  uri: string,
  _source: string,
  target: string,
  onProgress: (n: number) => void,
): Promise<FileDigest> {
  return localObjects.getFileWithDigest(uri, target, onProgress);
}

/** Reads only: the options of the store that wrote the object do not matter. */
const localObjects = new FileBlobStore();

/**
 * Progress of a store's getFile, which reports none: the bytes allocated in the private temp
 * directory it writes into (out-of-order ranged writes make the apparent size jump ahead).
 */
function watchDirectoryBytes(dir: string, report: (bytes: number) => void): { stop(): void } {
  const timer = setInterval(() => {
    let total = 0;
    try {
      for (const name of fs.readdirSync(dir)) {
        const st = fs.statSync(path.join(dir, name), { throwIfNoEntry: false });
        if (st?.isFile()) total += Math.min(st.size, st.blocks * 512);
      }
    } catch {
      return;
    }
    report(total);
  }, 250);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
