import { homedir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { registeredBlobStoreSchemes } from '../blobstore/registry.js';
import { ConfigurationError } from '../core/configuration-error.js';
import { redactUri } from '../core/redact-uri.js';
import { trimSlash } from './memo-uri.js';

const FULL_URI = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)/s;
// Two letters at least: `C:\data` and `C:/data` are Windows paths, not URIs.
const URI_LIKE = /^([A-Za-z][A-Za-z0-9+.-]+):(.*)$/s;

/**
 * A blob root as users write it → the canonical URI every process agrees on:
 * `file://~/x` and `~/x` expand the home directory, a plain path becomes a `file://` URI.
 * Anything that reads as a URI must name a registered store, spelled exactly (`s3:/bucket`,
 * `file:/tmp/x`, `S3://bucket` and `gs://bucket` are refused with a suggestion, not stored in a
 * folder named `s3:`), and carry no credentials (they would be written into every record).
 * `setting` names where the value came from, for the message.
 */
export function normalizeBlobRoot(root: string, setting = 'blobRoot'): string {
  const fail = (problem: string) => new ConfigurationError(`${setting} '${redactUri(root)}': ${problem}`);
  if (typeof root !== 'string' || root.trim() === '')
    throw new ConfigurationError(`${setting} must be a non-empty string`);
  if (root.startsWith('file://~'))
    return trimSlash(pathToFileURL(path.join(homedir(), root.slice('file://~'.length))).href);
  if (root.startsWith('~/') || root === '~') return trimSlash(pathToFileURL(path.join(homedir(), root.slice(1))).href);
  const full = FULL_URI.exec(root);
  if (full) {
    const scheme = full[1]!;
    const registered = registeredBlobStoreSchemes();
    if (!registered.includes(scheme)) {
      const lower = scheme.toLowerCase();
      if (registered.includes(lower))
        throw fail(`did you mean '${redactUri(`${lower}${root.slice(scheme.length)}`)}'? (schemes are lower case)`);
      throw fail(unknownScheme(scheme, registered));
    }
    if (full[2]!.includes('@'))
      throw fail(
        'credentials do not belong in the blob root: it is written into every record. Give them to the store ' +
          '(for s3://, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; for adls://, AZURE_STORAGE_* variables)',
      );
    return trimSlash(root);
  }
  const uriLike = URI_LIKE.exec(root);
  if (uriLike) {
    const scheme = uriLike[1]!;
    const lower = scheme.toLowerCase();
    const registered = registeredBlobStoreSchemes();
    if (registered.includes(lower)) {
      const rest = uriLike[2]!.replace(/^[/\\]+/, '');
      const suggestion = lower === 'file' ? `file:///${rest}` : `${lower}://${rest}`;
      throw fail(`did you mean '${redactUri(suggestion)}'?`);
    }
    throw fail(
      `${unknownScheme(scheme, registered)}; for a relative path starting with '${scheme}:' write './${redactUri(root)}'`,
    );
  }
  const near = /^([A-Za-z][A-Za-z0-9+.-]*)\/\/(.*)$/s.exec(root);
  if (near && registeredBlobStoreSchemes().includes(near[1]!.toLowerCase()))
    throw fail(`did you mean '${redactUri(`${near[1]!.toLowerCase()}://${near[2]!}`)}'?`);
  return trimSlash(pathToFileURL(path.resolve(root)).href);
}

/** No store for `scheme`: the closest registered scheme as the suggestion, else all of them. */
function unknownScheme(scheme: string, registered: string[]): string {
  const lower = scheme.toLowerCase();
  const closest = registered
    .map((s) => ({ s, d: editDistance(lower, s) }))
    .filter(({ s, d }) => d <= (Math.max(s.length, lower.length) >= 4 ? 2 : 1))
    .sort((a, b) => a.d - b.d)[0];
  const all = registered.map((s) => `'${s}://'`).join(', ');
  return closest
    ? `no blob store is registered for '${scheme}://'; did you mean '${closest.s}://'? (registered: ${all})`
    : `no blob store is registered for '${scheme}://'; did you mean one of ${all}? (registerBlobStore adds a scheme)`;
}

/** Optimal string alignment distance: a swap of two neighbours counts as one edit. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}
