import fs from 'node:fs';
import { lookupBlobStore } from '../blobstore/registry.js';
import { DownloadCache, type DownloadCacheOptions } from './download-cache.js';
import { LocalFileChangedError } from '../core/local-file-changed-error.js';

/**
 * The process's download cache (what `SrcFile.path()` and friends use), made on first use from
 * the environment, or from `configureDownloadCache`.
 */

let current: DownloadCache | undefined;

export function defaultDownloadCache(): DownloadCache {
  return (current ??= new DownloadCache());
}

/** Replaces the process's cache (another directory, cap, progress settings). */
export function configureDownloadCache(options: DownloadCacheOptions): DownloadCache {
  current = new DownloadCache(options);
  return current;
}

/**
 * A verified, read-only local copy of the object at `uri`, downloaded only if its current
 * version is not cached yet. Do not write to the returned path (copy it first).
 */
export async function downloadToCache(uri: string): Promise<string> {
  return (await defaultDownloadCache().fetch(uri)).path;
}

/**
 * Uploads a local file to `uri` through the cache: the file is also copied into the cache (hashed
 * on the way) and indexed under the uploaded version, so the next read of `uri` here is local.
 */
export async function uploadThroughCache(localPath: string, uri: string): Promise<void> {
  await uploadFileThroughCache(localPath, uri);
}

/** `uploadThroughCache`, returning the uploaded content's SHA-256 and size. */
export async function uploadFileThroughCache(
  localPath: string,
  uri: string,
  cache = defaultDownloadCache(),
): Promise<{ sha256: string; size: number }> {
  const before = await fs.promises.stat(localPath, { bigint: true });
  const file = await cache.add(localPath);
  // The original is uploaded, not the cache's read-only copy: stores that copy files keep the
  // source's mode, and an object should not turn read-only. The identity check below makes sure
  // the uploaded bytes are the hashed ones.
  const { etag } = await lookupBlobStore(uri).putFile(localPath, uri);
  const after = await fs.promises.stat(localPath, { bigint: true });
  if (
    after.ino !== before.ino ||
    after.size !== before.size ||
    after.mtimeNs !== before.mtimeNs ||
    after.ctimeNs !== before.ctimeNs
  ) {
    throw new LocalFileChangedError(localPath, `while being uploaded to ${uri}`);
  }
  cache.remember(uri, etag, file);
  return { sha256: file.sha256, size: file.size };
}
