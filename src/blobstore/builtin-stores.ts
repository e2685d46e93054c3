import type { BlobStore } from './blob-store.js';
import { FileBlobStore } from './local/file-store.js';
import { MemoryBlobStore } from './memory-store.js';

/**
 * The stores every process has without registering anything. The registry installs these when
 * it loads (it imports this module, never the other way round, so there is no import cycle).
 * Stores needing an SDK (s3, adls) register themselves lazily elsewhere.
 */
let fileStore: FileBlobStore | undefined;

export const builtinBlobStores: ReadonlyArray<readonly [scheme: string, factory: (uri: string) => BlobStore]> = [
  // One instance for every file:// URI (file:/// and file://localhost/ alike): the store is stateless.
  ['file', () => (fileStore ??= new FileBlobStore())],
  // One instance per memory://name, i.e. one namespace per name.
  ['memory', () => new MemoryBlobStore()],
];
