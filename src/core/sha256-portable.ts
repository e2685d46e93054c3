import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

/** SHA-256 in pure JavaScript (@noble/hashes), for environments without node:crypto. */
export function sha256Portable(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}
