import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnsupportedUriError } from '../errors.js';
import { isTempName } from './atomic-local-file.js';
import { isLockName } from './file-object-lock.js';

/**
 * `file://` URIs of the file store ↔ local absolute paths.
 *
 * Only `file:///abs/path` (and `file://localhost/abs/path`) are accepted. Anything the local path
 * could not represent faithfully is rejected rather than silently aliased: `..`/`.`/empty
 * segments (the URL parser would fold them, so two URIs would name one file), query and fragment
 * (dropped by the parser), raw backslashes (read as `/` in file URLs), encoded `/` and NUL.
 */

const FILE_ROOT = /^file:\/\/(?:localhost)?(?=\/)/i;
// Characters a URI path may carry raw and that decode to themselves: for such URIs the path is
// the URI minus its prefix, which skips ~1.5 µs of URL parsing on the memo-hit path.
const PLAIN_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;
// An empty, `.` or `..` segment, or a trailing `/` (which names a directory, not an object).
const BAD_SEGMENTS = /\/\.{0,2}(?:\/|$)/;

/** The local path of the object at `uri`. Throws `UnsupportedUriError` for anything but a plain object URI. */
export function objectPathOfFileUri(uri: string): string {
  const p = localPathOf(uri, uri.slice(rootLength(uri)), false);
  const base = path.basename(p);
  if (isTempName(base) || isLockName(base)) {
    throw new UnsupportedUriError(uri, `"${base}" is reserved for the file store's temp and lock files`);
  }
  return p;
}

/** The local path of the directory `dirUri` (which ends with `/`): used to start listings. */
export function directoryPathOfFileUri(dirUri: string): string {
  return localPathOf(dirUri, dirUri.slice(rootLength(dirUri)), true);
}

// Unreserved and sub-delims, `:` and `@` stay readable, so names memocall builds (base64url,
// `@`, `--`) list exactly as they were written; everything else is percent-encoded as UTF-8.
const PLAIN_SEGMENT = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]*$/;
const KEEP_DECODED = /%(?:24|26|2B|2C|3B|3D|3A|40)/g;

/** One path segment (a file or directory name) as it appears in a listed URI. */
export function fileUriSegment(name: string): string {
  if (PLAIN_SEGMENT.test(name)) return name;
  return encodeURIComponent(name).replace(KEEP_DECODED, decodeURIComponent);
}

function rootLength(uri: string): number {
  const m = FILE_ROOT.exec(uri);
  if (m === null) {
    throw new UnsupportedUriError(
      uri,
      'a file URI must name an absolute path: file:///absolute/path (relative forms and hosts other than localhost are not supported)',
    );
  }
  return m[0].length;
}

function localPathOf(uri: string, rawPath: string, isDirectory: boolean): string {
  const checked = isDirectory ? rawPath.slice(0, -1) : rawPath;
  if (isDirectory && !rawPath.endsWith('/')) throw new UnsupportedUriError(uri, 'a directory URI must end with /');
  if (PLAIN_PATH.test(rawPath)) {
    if (BAD_SEGMENTS.test(checked)) throw badSegments(uri, isDirectory);
    return rawPath;
  }
  if (/[?#\\]/.test(rawPath))
    throw new UnsupportedUriError(uri, 'file URIs may not contain "?", "#" or "\\" (percent-encode them)');
  // eslint-disable-next-line no-control-regex
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this check refuses
  if (/[\x00-\x1f\x7f]/.test(rawPath))
    throw new UnsupportedUriError(uri, 'file URIs may not contain control characters');
  if (BAD_SEGMENTS.test(checked.replace(/%2e/gi, '.'))) throw badSegments(uri, isDirectory);
  let local: string;
  try {
    local = fileURLToPath(`file://${rawPath}`);
  } catch (err) {
    throw new UnsupportedUriError(uri, `not a valid local path: ${(err as Error).message}`);
  }
  if (local.includes('\0')) throw new UnsupportedUriError(uri, 'file URIs may not contain NUL');
  return local;
}

function badSegments(uri: string, isDirectory: boolean): UnsupportedUriError {
  return new UnsupportedUriError(
    uri,
    isDirectory
      ? 'empty, "." and ".." path segments are not allowed'
      : 'empty, "." and ".." path segments are not allowed, and an object URI may not end with /',
  );
}
