/**
 * A URI as it may appear in a message or warning: credentials removed. Blob roots may carry them
 * (`s3://KEY:SECRET@bucket`, `redis://:password@host`, an Azure SAS `?sig=…`), and messages
 * end up in logs other people read.
 */
export function redactUri(uri: string): string {
  // userinfo: everything between `scheme://` and the first `@` before the path.
  let out = uri.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/?#@]*)@/i, (_m, scheme: string) => `${scheme}***@`);
  // Query parameters that are secrets by convention (SAS tokens, signed URLs, keys).
  out = out.replace(
    /([?&])(sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|token|access_token|password|secret|key|sv|se|sp|skoid|sktid)=([^&#]*)/gi,
    (_m, sep: string, name: string) => `${sep}${name}=***`,
  );
  return out;
}
