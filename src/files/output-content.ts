import { defaultDownloadCache } from '../cache/default-cache.js';
import { readIndex } from '../cache/uri-index.js';
import { FileBlobStore } from '../blobstore/local/file-store.js';
import { objectPathOfFileUri } from '../blobstore/local/file-uri.js';
import { lookupBlobStore } from '../blobstore/registry.js';

/**
 * The SHA-256 of what `uri` holds now, or null when nothing is there; cheapest way first:
 *  - one `head`: cloud stores report the sha256 they keep in the object's metadata;
 *  - the download cache's index, when this machine uploaded or fetched that very version (etag);
 *  - file://: the object's local file, hashed once and then remembered per inode, size, mtime
 *    and ctime (one `stat` while unchanged);
 *  - else the object is fetched through the cache (memory://, objects written by other tools).
 */
export async function currentContentSha256(uri: string): Promise<string | null> {
  const store = lookupBlobStore(uri);
  const head = await store.head(uri);
  if (!head) return null;
  if (head.sha256 !== undefined) return head.sha256;
  const cache = defaultDownloadCache();
  const indexed = readIndex(cache.layout, uri);
  if (indexed && indexed.etag === head.etag) return indexed.sha256;
  if (store instanceof FileBlobStore) {
    try {
      return (await cache.digestOfLocalFile(objectPathOfFileUri(uri))).sha256;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }
  return (await cache.fetch(uri)).sha256;
}
