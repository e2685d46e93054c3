import type { BlobStore } from './blob-store.js';
import { BlobNotFoundError } from './errors.js';

/** The object's bytes, or undefined when absent (through `tryGet` when the store has it). */
export async function getIfExists(store: BlobStore, uri: string): Promise<Uint8Array | undefined> {
  if (store.tryGet) return store.tryGet(uri);
  try {
    return await store.get(uri);
  } catch (err) {
    if (err instanceof BlobNotFoundError) return undefined;
    throw err;
  }
}
