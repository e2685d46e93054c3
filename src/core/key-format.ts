/**
 * The name of the key format: the canonical encoding (docs/keys.md), SHA-256, and the readable key.
 * It is a path segment of every memo URI, so any change to how keys are computed must bump it;
 * otherwise new code would find results stored under keys computed the old way.
 */
export const KEY_FORMAT_VERSION = 'memocall-v1';
