import type { Readable } from 'node:stream';
import { IntegrityError } from './integrity.js';
import { type StallWatchdog, TransientError, classifyFailure, transientBody, type FailureKind } from './retry.js';

/**
 * What the S3 and Azure stores share about their SDKs' responses and errors: reading a response
 * body, learning an object's size from a ranged response, the HTTP status of a failure, and
 * the retry rule for reads that fail verification. Each store only adapts its SDK's field names.
 */

export const MIB = 1024 * 1024;

/**
 * A response body as chunks whose transport failures are `TransientError`s (retried). A missing
 * body (an empty object) is an empty sequence.
 */
export function responseBody(
  body: Readable | AsyncIterable<Uint8Array> | undefined,
  what: string,
  watchdog?: StallWatchdog,
): AsyncIterable<Uint8Array> {
  if (body === undefined) return emptyBody();
  // Errors reach the reader through iteration; this listener only keeps a body that nobody
  // reads any more (an abandoned attempt) from crashing the process when its socket dies.
  (body as Partial<Readable>).on?.('error', () => undefined);
  return transientBody(body as AsyncIterable<Uint8Array>, what, watchdog);
}

async function* emptyBody(): AsyncIterable<Uint8Array> {
  // nothing
}

/**
 * The whole object's size from a ranged GET: the total after the slash of `Content-Range`, else
 * `Content-Length` (an empty object, or a server that ignored the range and sent everything).
 */
export function totalSizeOf(contentRange: string | undefined, contentLength: number | undefined, uri: string): number {
  const range = contentRange ? /\/(\d+)$/.exec(contentRange) : null;
  if (range?.[1] !== undefined) return Number(range[1]);
  if (contentLength !== undefined) return contentLength;
  throw new TransientError(`${uri}: response gave no size`);
}

/** The HTTP status of an SDK failure: AWS puts it in `$metadata.httpStatusCode`, Azure in `statusCode`. */
export function httpStatusOf(error: unknown): number | undefined {
  const e = error as { $metadata?: { httpStatusCode?: unknown }; statusCode?: unknown } | null;
  const status = e?.$metadata?.httpStatusCode ?? e?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** An integrity mismatch gets one more full read (a bad transfer), then is final. */
export function retryIntegrityOnce(error: unknown, attempt: number): FailureKind | undefined {
  if (error instanceof IntegrityError) return attempt === 1 ? 'transient' : 'permanent';
  return classifyFailure(error);
}
