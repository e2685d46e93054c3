import { createHash } from 'node:crypto';

/**
 * Names and labels of memocall's Jobs. Kubernetes limits names and label values to 63
 * characters (a Job's name becomes a label of its pods), lowercase DNS-1123 for names.
 */

/** Label keys and annotation keys memocall sets. */
export const LABEL = {
  managedBy: 'app.kubernetes.io/managed-by',
  /** Hash of the memo URI: how a caller finds the Jobs of an invocation. */
  memoUriHash: 'memocall.dev/memo-uri-hash',
  /** Hash of the writer id (writer ids may start with `-`, which a label value may not). */
  writerHash: 'memocall.dev/writer-hash',
  /** The function id, made a valid label value (for `kubectl get jobs -l ...`). */
  function: 'memocall.dev/function',
} as const;

export const ANNOTATION = {
  memoUri: 'memocall.dev/memo-uri',
  writerId: 'memocall.dev/writer-id',
  functionId: 'memocall.dev/function-id',
} as const;

export const MANAGED_BY = 'memocall';

const NAME_MAX = 63;

function hex(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** 128 bits of SHA-256 of the memo URI, in hex: a valid label value. */
export function memoUriHash(memoUri: string): string {
  return hex(memoUri, 32);
}

export function writerHash(writerId: string): string {
  return hex(writerId, 16);
}

/** Lowercase alphanumerics and single dashes, no dash at either end. */
function dns1123(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * `<readable part of the function id>-<hash>`, at most 63 characters. The hash covers the memo
 * URI and the writer id: one Job per lease holder, so a retried create by the same holder finds
 * its own Job (409), and a later holder never collides with an earlier holder's finished Job.
 */
export function jobNameFor(functionId: string, memoUri: string, writerId: string): string {
  const suffix = hex(`${memoUri}\n${writerId}`, 12);
  // `examples/fibonacci--fibonacci` → `fibonacci-fibonacci`: the export name matters most, then the module.
  const [modulePart = '', exportPart = ''] = functionId.includes('--')
    ? [functionId.slice(0, functionId.lastIndexOf('--')), functionId.slice(functionId.lastIndexOf('--') + 2)]
    : ['', functionId];
  const moduleBase = modulePart.slice(modulePart.lastIndexOf('/') + 1);
  const readable =
    dns1123(
      exportPart && moduleBase && exportPart !== moduleBase ? `${exportPart}-${moduleBase}` : exportPart || moduleBase,
    ) || 'memocall';
  const room = NAME_MAX - suffix.length - 1;
  return `${readable.slice(0, room).replace(/-+$/, '')}-${suffix}`;
}

/** A valid label value (≤ 63 characters of `[A-Za-z0-9._-]`, alphanumeric at both ends), or '' . */
export function labelValue(text: string): string {
  return text
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .slice(0, NAME_MAX)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

/** `key=value,...` for a list call. */
export function labelSelector(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
