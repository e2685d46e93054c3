export interface PutOptions {
  ifNoneMatch?: '*';
  ifMatch?: string;
}

export interface BlobHead {
  size: number;
  /** Opaque version tag: changes on every write. Never a content hash. */
  etag: string;
  lastModified: Date;
  /**
   * SHA-256 (hex) of the content, when the store keeps one with the object (S3 and Azure: in the
   * metadata memocall writes). Absent otherwise; never derived from the etag.
   */
  sha256?: string;
}

export interface VersionedBlob extends BlobHead {
  data: Uint8Array;
}

/**
 * A flat namespace of immutable-per-version objects addressed by URI.
 * All stores must pass `test/conformance/`.
 *
 * Layouts must not use one URI both as an object and as a "directory" of others (`…/a` and
 * `…/a/b`): object stores allow it, but the file store (one file per object) cannot.
 * Stores are looked up with `lookupBlobStore(uri)` (`registry.ts`).
 */
export interface BlobStore {
  /** Throws `BlobNotFoundError` when absent. */
  get(uri: string): Promise<Uint8Array>;
  /** Throws `PreconditionFailedError` when `ifNoneMatch`/`ifMatch` is not met. */
  put(uri: string, data: Uint8Array, opts?: PutOptions): Promise<{ etag: string }>;
  head(uri: string): Promise<BlobHead | null>;
  /** Every object URI starting with `prefix`, in lexicographic order. */
  list(prefix: string): AsyncIterable<string>;
  /** Removing an absent object is not an error. */
  delete(uri: string): Promise<void>;
  /** Throws `BlobNotFoundError` when absent; never leaves a partial file at `localPath`. */
  getFile(uri: string, localPath: string): Promise<void>;
  putFile(localPath: string, uri: string, opts?: PutOptions): Promise<{ etag: string }>;
  /**
   * Bytes and version of one object, read atomically (the etag belongs to these bytes).
   * Optional for user stores: memocall falls back to `head` + `get` and re-checks.
   */
  getVersioned?(uri: string): Promise<VersionedBlob>;
  /**
   * Like `get`, but `undefined` when absent instead of a thrown BlobNotFoundError: a memo miss is
   * the common case of a first call, and an exception per miss costs more than the read.
   * Optional for user stores (see `getIfExists`).
   */
  tryGet?(uri: string): Promise<Uint8Array | undefined>;
}
