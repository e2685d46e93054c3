/**
 * Credentials in URIs (`redis://:password@host`, `s3://KEY:SECRET@bucket`, `?sig=...`) must never
 * reach a message, a log or a record. These two functions are the one way memocall prints a URI
 * that came from a person or a setting.
 */

const REDACTED = '***';
// `scheme:` and its slashes, however many: `s3:/KEY:SECRET@bucket` is a typo that still holds a secret.
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*:[/\\]+)/;
/** Query parameters that carry secrets (Azure SAS signatures, AWS presigned URLs, tokens). */
const SECRET_PARAMS =
  /([?&](?:sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|password|passwd|pwd|token|access_token|secret|key|apikey|api_key)=)[^&#\s]*/gi;

/**
 * One URI with its user information (`user:password@`) and secret query parameters replaced by
 * `***`. A URI the WHATWG parser refuses (a malformed Redis URL, a password with a bare `/`) may
 * hide its `@` anywhere: then everything between `://` and the last `@` goes.
 */
export function redactUri(uri: string): string {
  const scheme = SCHEME.exec(uri)?.[1];
  if (scheme === undefined) return uri.replace(SECRET_PARAMS, `$1${REDACTED}`);
  const rest = uri.slice(scheme.length);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  let redacted: string;
  if (authority.includes('@')) {
    redacted = `${scheme}${REDACTED}${rest.slice(authority.lastIndexOf('@'))}`;
  } else if (rest.includes('@') && !parses(uri)) {
    redacted = `${scheme}${REDACTED}${rest.slice(rest.lastIndexOf('@'))}`;
  } else {
    redacted = uri;
  }
  return redacted.replace(SECRET_PARAMS, `$1${REDACTED}`);
}

/**
 * Free text (an error message) with every URI in it redacted, and every other occurrence of a
 * redacted user information (a store that quoted `'KEY:SECRET@bucket'` as a bucket name) too.
 */
export function redactUris(text: string): string {
  const secrets = new Set<string>();
  const redacted = text.replace(/[A-Za-z][A-Za-z0-9+.-]*:[/\\]+[^\s'"`<>()[\]{}]*/g, (uri) => {
    const clean = redactUri(uri);
    if (clean !== uri) for (const secret of userInfoOf(uri)) secrets.add(secret);
    return clean;
  });
  let result = redacted;
  // Longest first, so `KEY:SECRET` goes before its parts.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) result = result.split(secret).join(REDACTED);
  return result;
}

function userInfoOf(uri: string): string[] {
  const scheme = SCHEME.exec(uri)?.[1] ?? '';
  const rest = uri.slice(scheme.length);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  const at = authority.includes('@') ? authority.lastIndexOf('@') : rest.lastIndexOf('@');
  if (at <= 0) return [];
  const userInfo = rest.slice(0, at);
  const colon = userInfo.indexOf(':');
  const parts = [userInfo];
  if (colon >= 0) parts.push(userInfo.slice(0, colon), userInfo.slice(colon + 1));
  // Short fragments (a user named `a`) would blank unrelated text.
  return parts.filter((p) => p.length >= 4);
}

function parses(uri: string): boolean {
  try {
    new URL(uri);
    return true;
  } catch {
    return false;
  }
}
