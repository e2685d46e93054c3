/**
 * The name of the key format: the canonical encoding (docs/keys.md), SHA-256, and the readable key.
 * It is a path segment of every memo URI, so any change to how keys are computed must bump it;
 * otherwise new code would find results stored under keys computed the old way. The same holds
 * for the layout of memo URIs (protocol/memo-uri.ts). v2: one segment per id, `/` in ids written
 * `~`, `@` and `~` no longer id characters (v1 let two functions share a URI).
 */
export const KEY_FORMAT_VERSION = 'memocall-v2';
