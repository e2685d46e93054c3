import type { BlobStore, VersionedBlob } from '../blobstore/blob-store.js';
import { BlobNotFoundError } from '../blobstore/errors.js';
import { getIfExists } from '../blobstore/get-if-exists.js';
import type { MemocallError } from '../core/memocall-error.js';
import { CorruptRecordError, isCorruption, warnCorruptRecord } from './corrupt-record.js';

/**
 * Reads and decodes the record at `uri`: undefined when absent, and also when it is corrupt (the
 * store's checksum or `decode` refuses it), after a MEMOCALL_CORRUPT_RECORD warning saying
 * `treatment`. Other failures (the store is down) throw.
 */
export async function readRecordOrWarn<T>(
  store: BlobStore,
  uri: string,
  decode: (bytes: Uint8Array, uri: string) => T,
  treatment: string,
): Promise<T | undefined> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await rereadOnStoreMismatch(() => getIfExists(store, uri));
  } catch (err) {
    if (!isCorruption(err)) throw err;
    warnCorruptRecord(uri, err, treatment);
    return undefined;
  }
  if (bytes === undefined) return undefined;
  try {
    return decode(bytes, uri);
  } catch (err) {
    if (!(err instanceof CorruptRecordError)) throw err;
    warnCorruptRecord(uri, err, treatment);
    return undefined;
  }
}

/** A stored record with its version: decoded, or corrupt (and then only its version is known). */
export type VersionedRecord<T> =
  | { record: T; etag: string; corrupt?: undefined; data: Uint8Array }
  | { record?: undefined; etag: string; corrupt: MemocallError; data: Uint8Array | undefined };

/**
 * The record at `uri` with the etag of exactly the bytes decoded, or null when absent: what a
 * compare-and-swap that replaces a corrupt record needs.
 */
export async function readVersionedRecord<T>(
  store: BlobStore,
  uri: string,
  decode: (bytes: Uint8Array, uri: string) => T,
): Promise<VersionedRecord<T> | null> {
  let blob: VersionedBlob;
  try {
    blob = await rereadOnStoreMismatch(() => getVersioned(store, uri));
  } catch (err) {
    if (err instanceof BlobNotFoundError) return null;
    if (!isCorruption(err)) throw err;
    // The store refused the bytes (checksum): their version is still the one to replace.
    const head = await store.head(uri);
    return head ? { corrupt: err, etag: head.etag, data: undefined } : null;
  }
  try {
    return { record: decode(blob.data, uri), etag: blob.etag, data: blob.data };
  } catch (err) {
    if (!(err instanceof CorruptRecordError)) throw err;
    return { corrupt: err, etag: blob.etag, data: blob.data };
  }
}

/**
 * A checksum mismatch may be the network's (a response damaged in transit, which the store
 * already retried once) or the object's. Only one that persists over fresh reads is corruption:
 * calling it so too soon would run a call again whose valid result is stored.
 */
async function rereadOnStoreMismatch<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      if (attempt >= STORE_MISMATCH_READS || err instanceof CorruptRecordError || !isCorruption(err)) throw err;
    }
  }
}

const STORE_MISMATCH_READS = 3;

/** Bytes and version read atomically; for user stores without `getVersioned`: head, get, head until both heads agree. */
export async function getVersioned(store: BlobStore, uri: string): Promise<VersionedBlob> {
  if (store.getVersioned) return store.getVersioned(uri);
  for (;;) {
    const before = await store.head(uri);
    if (!before) throw new BlobNotFoundError(uri);
    const data = await store.get(uri);
    const after = await store.head(uri);
    if (after && after.etag === before.etag) return { ...after, data };
  }
}
