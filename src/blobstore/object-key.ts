import { UnsupportedUriError } from './errors.js';

/**
 * The object-key rules every store applies before any request, so that one object has one name.
 * Object stores reached over HTTP fold `.` and `..` path segments (the Azure SDK and URL parsers
 * resolve them: `a/../b` became `b`), and the file store cannot represent them: a key naming
 * another object than it spells could overwrite a write-once record. Refused, in every store:
 * empty segments (`a//b`, a leading or trailing `/`), `.` and `..` segments (also percent-encoded,
 * which a server may decode before folding), backslashes (read as `/` by some clients) and
 * control characters, NUL included.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
const CONTROL = /[\x00-\x1f\x7f]|%(?:0[0-9a-f]|1[0-9a-f]|7f)/i;
const BACKSLASH = /\\|%5c/i;

/** Throws `UnsupportedUriError` naming `uri` and the rule when `key` breaks one (see above). */
export function checkObjectKey(uri: string, key: string): void {
  const problem = objectKeyProblem(key, false);
  if (problem) throw new UnsupportedUriError(uri, problem);
}

/**
 * The same rules for a listing prefix: it may be empty, end with `/`, or end in a partial
 * segment (`a/b` lists `a/b…`); its complete segments follow the object rules.
 */
export function checkKeyPrefix(uri: string, prefix: string): void {
  const problem = objectKeyProblem(prefix, true);
  if (problem) throw new UnsupportedUriError(uri, problem);
}

function objectKeyProblem(key: string, isPrefix: boolean): string | undefined {
  if (CONTROL.test(key)) return 'object keys may not contain control characters (NUL included)';
  if (BACKSLASH.test(key)) return 'object keys may not contain "\\" (some clients read it as "/")';
  const segments = key.replace(/%2f/gi, '/').replace(/%2e/gi, '.').split('/');
  // A prefix's last segment is partial (it may be empty: `a/` lists the folder).
  const complete = isPrefix ? segments.slice(0, -1) : segments;
  if (isPrefix && key === '') return undefined;
  for (const segment of complete) {
    if (segment === '') return 'empty path segments are not allowed (no leading, trailing or double "/")';
    if (segment === '.' || segment === '..') return `"${segment}" path segments are not allowed`;
  }
  return undefined;
}
