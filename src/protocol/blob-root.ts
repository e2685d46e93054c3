import { homedir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { trimSlash } from './memo-uri.js';

/**
 * A blob root as users write it → the canonical URI every process agrees on:
 * `file://~/x` and `~/x` expand the home directory, a plain path becomes a `file://` URI.
 */
export function normalizeBlobRoot(root: string): string {
  if (root.startsWith('file://~'))
    return trimSlash(pathToFileURL(path.join(homedir(), root.slice('file://~'.length))).href);
  if (root.startsWith('~/') || root === '~') return trimSlash(pathToFileURL(path.join(homedir(), root.slice(1))).href);
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(root)) return trimSlash(pathToFileURL(path.resolve(root)).href);
  return trimSlash(root);
}
