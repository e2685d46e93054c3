import fs from 'node:fs';
import path from 'node:path';
import { defaultDownloadCache } from '../cache/default-cache.js';
import { stillHashesTo } from '../cache/local-file-digest.js';
import { LocalFileChangedError } from '../core/local-file-changed-error.js';
import { PreconditionFailedError } from '../blobstore/errors.js';
import { lookupBlobStore } from '../blobstore/registry.js';
import { currentInvocation } from '../execute/invocation-context.js';
import { casUri } from './cas.js';
import { FileNotPreparedError, FileUnavailableError, LocalFileNotFoundError } from './errors.js';
import { localPathWithContent, registerLocalContent } from './local-content.js';

/**
 * What SrcFile and Source have in common: a readable file identified by its content, which may
 * be local (read in place), remote (a URI, downloaded through the cache on first access), or
 * known only by content (a local file of the caller, decoded in another process: its bytes are
 * in the blob root's content-addressed store).
 *
 * Identity (what goes into an invocation key, see docs/files.md): content hash and size, plus
 * the URI when the file has one. A local file has no URI: where it sits on the caller's disk
 * is not something the function can rely on elsewhere, so it is not part of the key.
 */

export interface Digest {
  /** SHA-256 of the bytes, lower-case hex. */
  sha256: string;
  size: number;
}

/** What the codecs store (and hash, for arguments). */
export interface FilePayload {
  sha256: string;
  size: number;
  uri?: string;
}

/** Internal constructor argument: only this package can make file values. */
export const INTERNAL: unique symbol = Symbol('memocall.fileValue');

export type FileState =
  | { kind: 'local'; localPath: string; uri: string | undefined; digest: Digest | undefined }
  | { kind: 'remote'; uri: string; digest: Digest | undefined }
  | { kind: 'content'; digest: Digest };

/** Counts file values ever made here, so hooks skip walking values when there cannot be any. */
export const fileValueCounters = { created: 0, decoded: 0 };

export abstract class FileValue {
  #state: FileState;
  /** Blob root whose content-addressed store holds a `content` file (set on results received). */
  #casRoot: string | undefined;
  #localCopy: string | undefined;

  protected constructor(token: typeof INTERNAL, state: FileState) {
    if (token !== INTERNAL) throw new TypeError('file values are made with localSrc, src, fromFile, fromUri...');
    this.#state = state;
    fileValueCounters.created++;
  }

  /** The remote location, if the file has one (a local file gets one once uploaded as an output). */
  get uri(): string | undefined {
    return this.#state.kind === 'content' ? undefined : this.#state.uri;
  }

  /** SHA-256 (hex) of the content, once known: always inside a memoized call. */
  get sha256(): string | undefined {
    return this.#state.digest?.sha256;
  }

  /** Size in bytes, once known. */
  get size(): number | undefined {
    return this.#state.digest?.size;
  }

  /** @internal */
  get state(): Readonly<FileState> {
    return this.#state;
  }

  /** A short description for messages. */
  protected abstract describe(): string;

  toString(): string {
    return this.describe();
  }

  /**
   * A local path to read the bytes from: the file itself when it is local, else a verified,
   * read-only copy in the download cache (downloaded on first access). Never write to it.
   */
  async path(): Promise<string> {
    const s = this.#state;
    if (s.kind === 'local') {
      if (s.digest && !stillHashesTo(s.localPath, s.digest.sha256) && fs.existsSync(s.localPath)) {
        // Hashed into this call's key, then modified: reading it now would give other bytes.
        throw new LocalFileChangedError(s.localPath, 'after its content hash was taken');
      }
      if (!fs.existsSync(s.localPath)) throw new LocalFileNotFoundError(s.localPath);
      return s.localPath;
    }
    const digest = s.digest;
    if (digest) {
      const local = localPathWithContent(digest.sha256);
      if (local) return local;
      if (this.#localCopy !== undefined && fs.existsSync(this.#localCopy)) return this.#localCopy;
    }
    const cache = defaultDownloadCache();
    let uri: string;
    if (s.kind === 'remote') {
      uri = s.uri;
    } else {
      const hit = await cache.lookup(s.digest.sha256, s.digest.size);
      if (hit) return (this.#localCopy = hit.path);
      const root = this.#casRoot ?? currentInvocation()?.memo.blobRoot;
      if (root === undefined) {
        throw new FileUnavailableError(
          `${this.describe()} is a file of another machine and no blob root is known to fetch it from`,
        );
      }
      uri = casUri(root, s.digest.sha256);
    }
    const file = await cache.fetch(uri, digest ? { sha256: digest.sha256, size: digest.size } : {});
    if (s.kind === 'remote' && !s.digest) s.digest = { sha256: file.sha256, size: file.size };
    return (this.#localCopy = file.path);
  }

  /**
   * Computes the content hash if it is not known (hashing a local file, remembered across
   * processes while the file is unchanged; or fetching a remote one through the cache).
   * Memoized calls do this before computing their key; returns the file itself.
   */
  async prepare(): Promise<this> {
    await this.preparation();
    return this;
  }

  /** @internal the work `prepare` does, or undefined when there is none (one stat for a known local file). */
  preparation(): Promise<void> | undefined {
    const s = this.#state;
    if (s.kind === 'content') return undefined;
    if (s.kind === 'local') {
      if (s.digest && stillHashesTo(s.localPath, s.digest.sha256)) return undefined;
      return defaultDownloadCache()
        .digestOfLocalFile(s.localPath)
        .then(
          (digest) => {
            s.digest = digest;
            registerLocalContent(digest.sha256, s.localPath);
          },
          (err: unknown) => {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT')
              throw new LocalFileNotFoundError(s.localPath, { cause: err });
            throw err;
          },
        );
    }
    if (s.digest) return undefined;
    return this.path().then(() => undefined);
  }

  /** @internal the payload the codec stores. Throws when the content hash is not known yet. */
  payload(): FilePayload {
    const s = this.#state;
    if (!s.digest) throw new FileNotPreparedError(this.describe());
    const uri = s.kind === 'content' ? undefined : s.uri;
    return uri === undefined
      ? { sha256: s.digest.sha256, size: s.digest.size }
      : { sha256: s.digest.sha256, size: s.digest.size, uri };
  }

  /** @internal the local file of a `local` value (undefined otherwise). */
  get localPath(): string | undefined {
    return this.#state.kind === 'local' ? this.#state.localPath : undefined;
  }

  /** @internal after a returned local file was uploaded: it is now remote at `uri`. */
  becameRemote(uri: string, digest: Digest): void {
    this.#state = { kind: 'remote', uri, digest };
  }

  /** @internal where a received `content` file can be fetched from. */
  bindCasRoot(blobRoot: string): void {
    if (this.#state.kind === 'content') this.#casRoot = blobRoot;
  }

  /**
   * @internal Uploads a local file's bytes to the content-addressed store under `blobRoot`
   * (skipped when an object of that size is already there: the name is the content).
   */
  async uploadToCas(blobRoot: string): Promise<void> {
    const s = this.#state;
    if (s.kind !== 'local' || !s.digest) return;
    const target = casUri(blobRoot, s.digest.sha256);
    await uploadLocalFile(s.localPath, s.digest, target, { contentAddressed: true });
  }

  /** @internal Uploads a local file to its designated URI (fromFile(path, { uri })). */
  async uploadToDesignatedUri(): Promise<void> {
    const s = this.#state;
    if (s.kind !== 'local' || !s.digest || s.uri === undefined) return;
    await uploadLocalFile(s.localPath, s.digest, s.uri, { contentAddressed: false });
  }
}

/**
 * Uploads a hashed local file, then checks it is still the file that was hashed: what the
 * remote reads must be what the key was computed from.
 */
async function uploadLocalFile(
  localPath: string,
  digest: Digest,
  uri: string,
  opts: { contentAddressed: boolean },
): Promise<void> {
  const store = lookupBlobStore(uri);
  let createOnly = false;
  if (opts.contentAddressed) {
    const head = await store.head(uri);
    if (head && head.size === digest.size) return;
    // Absent: create it, and a concurrent uploader of the same content may win. Present with
    // another size: a damaged copy, replaced.
    createOnly = head === null;
  }
  try {
    await store.putFile(localPath, uri, createOnly ? { ifNoneMatch: '*' } : {});
  } catch (err) {
    // Another process uploaded the same content first: same name, same bytes.
    if (!(createOnly && err instanceof PreconditionFailedError)) throw err;
  }
  if (!stillHashesTo(localPath, digest.sha256))
    throw new LocalFileChangedError(localPath, `while being uploaded to ${uri}`);
}

/** Absolute path of a local file that must exist now (clear error at the call site, not later). */
export function existingLocalFile(file: string): string {
  const abs = path.resolve(file);
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(abs);
  } catch (err) {
    throw new LocalFileNotFoundError(abs, { cause: err });
  }
  if (!st.isFile()) throw new LocalFileNotFoundError(abs);
  return abs;
}
