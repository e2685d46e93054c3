import type { BlobStore } from './blob-store.js';
import { UnsupportedUriError } from './errors.js';
import { builtinBlobStores } from './builtin-stores.js';

/**
 * Makes the store for a root. Called once per `scheme://authority` (e.g. `memory://name`,
 * `s3://bucket`, `file://`), with the first URI looked up under it; the store then serves every
 * URI of that root, so the factory must not depend on the rest of the URI.
 */
export type BlobStoreFactory = (uri: string) => BlobStore;

export interface BlobUriParts {
  /** Lower-cased. */
  scheme: string;
  /** Between `://` and the next `/`, `?` or `#`: a bucket, an account, a memory name; empty for `file:///`. */
  authority: string;
  /** The rest, starting with `/` when present. */
  path: string;
}

const factories = new Map<string, BlobStoreFactory>();
// Keyed by the URI's own text up to the first '/' after '://', so a lookup is two indexOf, one
// slice and one Map hit (this is on the memo-hit path). Variant spellings of one root (FILE://,
// file://localhost) get their own key but share the store through the normalized key.
const stores = new Map<string, BlobStore>();

for (const [scheme, factory] of builtinBlobStores) factories.set(scheme, factory);

const URI_PARTS = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s;

/** Splits `scheme://authority/path`; `UnsupportedUriError` for anything else (`/tmp/x`, `file:/x`). */
export function parseBlobUri(uri: string): BlobUriParts {
  const m = URI_PARTS.exec(uri);
  if (m === null) {
    throw new UnsupportedUriError(
      uri,
      `not a blob URI (expected scheme://authority/path, e.g. file:///abs/path, memory://name/key); registered schemes: ${registeredSchemes()}`,
    );
  }
  return { scheme: m[1]!.toLowerCase(), authority: m[2]!, path: m[3]! };
}

/**
 * Makes `factory` the maker of stores for `scheme` (`s3`, without `://`). Registering a scheme
 * again replaces its factory and forgets the stores it made, so later lookups use the new one.
 */
export function registerBlobStore(scheme: string, factory: BlobStoreFactory): void {
  const name = scheme.toLowerCase();
  if (!/^[a-z][a-z0-9+.-]*$/.test(name)) throw new TypeError(`registerBlobStore: invalid scheme "${scheme}"`);
  factories.set(name, factory);
  for (const key of [...stores.keys()]) {
    if (key.slice(0, key.indexOf(':')).toLowerCase() === name) stores.delete(key);
  }
}

/** The store for `uri`'s root; `UnsupportedUriError` for a scheme nobody registered. */
export function lookupBlobStore(uri: string): BlobStore {
  return stores.get(rootKey(uri)) ?? createStore(uri);
}

/** The registered schemes, sorted: for messages and the CLI. */
export function registeredBlobStoreSchemes(): string[] {
  return [...factories.keys()].sort();
}

function rootKey(uri: string): string {
  const start = uri.indexOf('://');
  if (start < 0) return ''; // never a key: the slow path reports the bad URI
  const end = uri.indexOf('/', start + 3);
  return end < 0 ? uri : uri.slice(0, end);
}

function createStore(uri: string): BlobStore {
  const { scheme, authority } = parseBlobUri(uri);
  const normalized = `${scheme}://${authority}`;
  let store = stores.get(normalized);
  if (store === undefined) {
    const factory = factories.get(scheme);
    if (factory === undefined) {
      throw new UnsupportedUriError(
        uri,
        `no blob store is registered for "${scheme}://"; registered schemes: ${registeredSchemes()}`,
      );
    }
    store = factory(uri);
    stores.set(normalized, store);
  }
  const key = rootKey(uri);
  if (key !== '') stores.set(key, store);
  return store;
}

function registeredSchemes(): string {
  return registeredBlobStoreSchemes()
    .map((s) => `${s}://`)
    .join(', ');
}
