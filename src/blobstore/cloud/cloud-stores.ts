import type { AzureStoreOptions } from './azure-store.js';
import type { BlobHead, BlobStore, PutOptions, VersionedBlob } from '../blob-store.js';
import { UnsupportedUriError } from '../errors.js';
import { getIfExists } from '../get-if-exists.js';
import { registerBlobStore } from '../registry.js';
import { importOptionalDependency } from '../../core/optional-dependency.js';
import type { S3StoreOptions } from './s3-options.js';

/**
 * Registers the cloud schemes with the blob store registry:
 *   s3://bucket/key                                   → S3Store
 *   adls://account/container/path                     → AzureStore
 *   https://account.blob.core.windows.net/container/… → AzureStore
 *   https://127.0.0.1:port/account/container/…        → AzureStore (azurite-style emulators)
 *
 * LAZILY: importing this module loads no SDK (they take hundreds of milliseconds to import and
 * most processes, e.g. a memo hit on local files, never need them). Each factory returns a small
 * proxy that imports the real store on its first call.
 */

export interface CloudStoresOptions {
  /** Options of the S3 store behind every `s3://` URI (defaults: see S3StoreOptions). */
  s3?: S3StoreOptions;
  /** Options of the Azure store behind every `adls://` and Azure `https://` URI. */
  azure?: AzureStoreOptions;
}

/** Both cloud stores read bytes and version atomically. */
type VersionedBlobStore = BlobStore & {
  getVersioned(uri: string): Promise<VersionedBlob>;
};

let current: CloudStoresOptions = {};
let configured = false;
// One real store per kind, shared by every bucket/account: one connection pool, one client cache.
let s3Store: Promise<VersionedBlobStore> | undefined;
let azureStore: Promise<VersionedBlobStore> | undefined;

/**
 * Replaces the options of the cloud stores and forgets the stores made so far, so the next
 * lookup builds them with these options. Without a call, everything comes from the environment.
 */
export function configureCloudStores(options: CloudStoresOptions): void {
  current = options;
  configured = true;
  s3Store = undefined;
  azureStore = undefined;
  registerCloudStores();
}

/** Registers (or re-registers) the `s3`, `adls` and `https` schemes. Runs on import. */
export function registerCloudStores(): void {
  const loadS3 = (): Promise<VersionedBlobStore> =>
    (s3Store ??= importOptionalDependency(
      ['@aws-sdk/client-s3', '@aws-sdk/lib-storage'],
      'the s3:// store',
      () => import('./s3-store.js'),
    )
      .then(({ S3Store }) => new S3Store(current.s3))
      .catch(forget(() => (s3Store = undefined))));
  const loadAzure = (): Promise<VersionedBlobStore> =>
    (azureStore ??= importOptionalDependency(
      '@azure/storage-blob',
      'the Azure blob store',
      () => import('./azure-store.js'),
    )
      .then(({ AzureStore }) => new AzureStore(current.azure))
      .catch(forget(() => (azureStore = undefined))));
  registerBlobStore('s3', () => new LazyBlobStore(loadS3));
  registerBlobStore('adls', () => new LazyBlobStore(loadAzure));
  registerBlobStore('https', (uri) => {
    if (!isAzureHttpsUri(uri)) {
      throw new UnsupportedUriError(
        uri,
        'https:// is only a blob store for Azure (*.blob.core.windows.net, or a loopback emulator)',
      );
    }
    return new LazyBlobStore(loadAzure);
  });
}

function forget(reset: () => void): (error: unknown) => never {
  return (error: unknown) => {
    reset(); // a failed import or constructor is retried on the next call, not cached forever
    throw error;
  };
}

/**
 * Whether `store` is a cloud store built from the environment alone (no configureCloudStores):
 * then another thread of this process that registers the cloud stores builds the same one.
 */
export function isEnvironmentCloudStore(store: BlobStore): boolean {
  return !configured && store instanceof LazyBlobStore;
}

/** `https://<account>.blob.core.windows.net/...` or `https://127.0.0.1:<port>/<account>/...`. */
export function isAzureHttpsUri(uri: string): boolean {
  const m = /^https:\/\/([^/?#]+)/i.exec(uri);
  const host = m?.[1]?.replace(/:\d+$/, '').toLowerCase();
  if (host === undefined) return false;
  return /^[a-z0-9]+\.blob\.core\.windows\.net$/.test(host) || /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(host);
}

/** A BlobStore whose implementation is imported on first use. */
class LazyBlobStore implements BlobStore {
  readonly #load: () => Promise<VersionedBlobStore>;

  constructor(load: () => Promise<VersionedBlobStore>) {
    this.#load = load;
  }

  async get(uri: string): Promise<Uint8Array> {
    return (await this.#load()).get(uri);
  }

  async put(uri: string, data: Uint8Array, opts?: PutOptions): Promise<{ etag: string }> {
    return (await this.#load()).put(uri, data, opts);
  }

  async head(uri: string): Promise<BlobHead | null> {
    return (await this.#load()).head(uri);
  }

  async *list(prefix: string): AsyncIterable<string> {
    yield* (await this.#load()).list(prefix);
  }

  async delete(uri: string): Promise<void> {
    return (await this.#load()).delete(uri);
  }

  async getFile(uri: string, localPath: string): Promise<void> {
    return (await this.#load()).getFile(uri, localPath);
  }

  async putFile(localPath: string, uri: string, opts?: PutOptions): Promise<{ etag: string }> {
    return (await this.#load()).putFile(localPath, uri, opts);
  }

  async getVersioned(uri: string): Promise<VersionedBlob> {
    return (await this.#load()).getVersioned(uri);
  }

  async tryGet(uri: string): Promise<Uint8Array | undefined> {
    // A cloud miss is an HTTP 404 either way: getIfExists turns its BlobNotFoundError into undefined.
    return getIfExists(await this.#load(), uri);
  }
}

registerCloudStores();
