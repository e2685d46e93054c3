import { ConfigurationError } from '../core/configuration-error.js';
import { normalizeBlobRoot } from '../protocol/blob-root.js';
import { UsageError } from './usage-error.js';

/**
 * A URI typed on the command line, in any form a blob root takes (`file://~/.memocall`,
 * `~/x`, `/abs/path`, `./rel`, `s3://bucket/prefix`) → the URI. A trailing `/` is kept: for a
 * prefix it means "inside this folder". Mistyped schemes are usage errors with a suggestion.
 */
export function uriArgument(text: string, what: string): string {
  if (text.trim() === '') throw new UsageError(`expected a ${what}, got an empty string`);
  let uri: string;
  try {
    uri = normalizeBlobRoot(text, what);
  } catch (err) {
    if (err instanceof ConfigurationError) throw new UsageError(err.message);
    throw err;
  }
  return /[/\\]$/.test(text) && !uri.endsWith('/') ? `${uri}/` : uri;
}

/** A memo URI argument: as `uriArgument`, without trailing slashes. */
export function memoUriArgument(text: string): string {
  return uriArgument(text, 'memo URI').replace(/\/+$/, '');
}
