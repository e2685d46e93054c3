import fs from 'node:fs';
import { sha256Hex } from '../core/sha256.js';
import type { BlobHead, BlobStore, PutOptions, VersionedBlob } from './blob-store.js';
import { BlobNotFoundError, IntegrityError, PreconditionFailedError, UnsupportedUriError } from './errors.js';
import { writeLocalFileAtomically } from './local/atomic-local-file.js';

interface StoredObject {
  data: Uint8Array;
  etag: string;
  lastModified: Date;
  /** Hex SHA-256 of `data` when it was put; checked on every full read. */
  sha256: string;
}

// Shared by all instances so two stores never hand out the same etag for different versions.
let etagCounter = 0;

const MEMORY_URI = /^memory:\/\/[^/?#]+\/./;

/**
 * `memory://name/key`: objects in this process's memory, for tests and single-process runs.
 * The registry makes one instance per name, so each name is its own namespace. Every method
 * finishes its state change synchronously, which makes conditional writes trivially atomic.
 * Bytes are copied in and out: a caller mutating its array cannot change a stored object.
 * Like every store, each object keeps the SHA-256 it was written with, and full reads check it
 * (IntegrityError): memory can be corrupted too, through a stray write into a shared buffer.
 */
export class MemoryBlobStore implements BlobStore {
  readonly #objects = new Map<string, StoredObject>();

  /**
   * Internal, for tests of integrity checking: replaces an object's stored bytes by what `mutate`
   * returns (it may change them in place), as corruption would: the digest stays.
   */
  static corruptForTests(store: MemoryBlobStore, uri: string, mutate: (data: Uint8Array) => Uint8Array): void {
    const obj = store.#existing(uri);
    obj.data = mutate(obj.data);
  }

  async get(uri: string): Promise<Uint8Array> {
    return verifiedCopy(uri, this.#existing(uri));
  }

  async tryGet(uri: string): Promise<Uint8Array | undefined> {
    const obj = this.#objects.get(uri);
    return obj && verifiedCopy(uri, obj);
  }

  async getVersioned(uri: string): Promise<VersionedBlob> {
    const obj = this.#existing(uri);
    return { data: verifiedCopy(uri, obj), ...headOf(obj) };
  }

  async head(uri: string): Promise<BlobHead | null> {
    const obj = this.#objects.get(checkUri(uri));
    return obj === undefined ? null : headOf(obj);
  }

  async put(uri: string, data: Uint8Array, opts: PutOptions = {}): Promise<{ etag: string }> {
    checkUri(uri);
    const current = this.#objects.get(uri);
    if (opts.ifNoneMatch !== undefined && opts.ifMatch !== undefined) {
      throw new TypeError('put: give ifNoneMatch or ifMatch, not both');
    }
    if (opts.ifNoneMatch !== undefined) {
      if (opts.ifNoneMatch !== '*')
        throw new TypeError(`put: ifNoneMatch must be '*', got ${String(opts.ifNoneMatch)}`);
      if (current !== undefined) throw new PreconditionFailedError(uri, { ifNoneMatch: '*' });
    }
    if (opts.ifMatch !== undefined && current?.etag !== opts.ifMatch) {
      throw new PreconditionFailedError(uri, { ifMatch: opts.ifMatch });
    }
    const etag = `m${(++etagCounter).toString(36)}`;
    const copy = new Uint8Array(data);
    this.#objects.set(uri, { data: copy, etag, lastModified: new Date(), sha256: sha256Hex(copy) });
    return { etag };
  }

  async putFile(localPath: string, uri: string, opts?: PutOptions): Promise<{ etag: string }> {
    checkUri(uri);
    return this.put(uri, await fs.promises.readFile(localPath), opts);
  }

  async delete(uri: string): Promise<void> {
    this.#objects.delete(checkUri(uri));
  }

  async getFile(uri: string, localPath: string): Promise<void> {
    await writeLocalFileAtomically(localPath, verifiedCopy(uri, this.#existing(uri)));
  }

  /** A snapshot taken at the first iteration, sorted by code point (= UTF-8 byte order, as S3). */
  async *list(prefix: string): AsyncIterable<string> {
    if (!prefix.startsWith('memory://')) throw new UnsupportedUriError(prefix, 'not a memory:// prefix');
    const keys: string[] = [];
    for (const key of this.#objects.keys()) if (key.startsWith(prefix)) keys.push(key);
    yield* keys.sort(compareCodePoints);
  }

  #existing(uri: string): StoredObject {
    const obj = this.#objects.get(checkUri(uri));
    if (obj === undefined) throw new BlobNotFoundError(uri);
    return obj;
  }
}

function checkUri(uri: string): string {
  if (!MEMORY_URI.test(uri)) throw new UnsupportedUriError(uri, 'a memory URI has the form memory://name/key');
  return uri;
}

function headOf(obj: StoredObject): BlobHead {
  return { size: obj.data.byteLength, etag: obj.etag, lastModified: obj.lastModified, sha256: obj.sha256 };
}

/** A copy of the object's bytes, hashed after copying so that what is returned is what was checked. */
function verifiedCopy(uri: string, obj: StoredObject): Uint8Array {
  const copy = new Uint8Array(obj.data);
  const actual = sha256Hex(copy);
  if (actual !== obj.sha256) throw new IntegrityError(uri, obj.sha256, actual);
  return copy;
}

/**
 * JS `<` compares UTF-16 code units, which puts U+E000..U+FFFF after astral characters; object
 * stores (S3, Azure) order by UTF-8 bytes, i.e. by code point. Mapping surrogates above the rest
 * of the BMP restores code point order.
 */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit <= 0xdfff ? unit + 0x2000 : unit - 0x800;
}
