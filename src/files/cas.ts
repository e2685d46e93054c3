import { KEY_FORMAT_VERSION } from '../core/key-format.js';

/**
 * Content-addressed copies of argument files, under the memo URI's own blob root (never outside
 * it): `<blobRoot>/<KEY_FORMAT_VERSION>/cas/sha256/<hex>`. Hex, not base64: one spelling on every store,
 * case-insensitive file systems included.
 */
export function casUri(blobRoot: string, sha256: string): string {
  const root = blobRoot.endsWith('/') ? blobRoot.slice(0, -1) : blobRoot;
  return `${root}/${KEY_FORMAT_VERSION}/cas/sha256/${sha256}`;
}
