import { MemocallError } from '../core/memocall-error.js';
import { redactUri } from '../core/redact-uri.js';

/** A lease this process held was taken over by another writer: its work must not be written. */
export class LeaseLostError extends MemocallError {
  readonly leaseUri: string;
  readonly writerId: string;

  constructor(leaseUri: string, writerId: string, detail: string) {
    super('MEMOCALL_LEASE_LOST', `lease ${leaseUri} is no longer held by writer ${writerId}: ${detail}`);
    this.leaseUri = leaseUri;
    this.writerId = writerId;
  }
}

/**
 * A memoized call given up because its AbortSignal fired (see `withSignal` and the runner's
 * `signal` option). `name` is `'AbortError'`, as for `fetch` and timers; `cause` is the signal's
 * reason. Whatever the call held (lease, child process) was released before it rejected.
 */
export class CallAbortedError extends MemocallError {
  readonly memoUri: string | undefined;

  constructor(reason: unknown, memoUri?: string) {
    super('MEMOCALL_ABORTED', `the call ${memoUri ? `to ${memoUri} ` : ''}was aborted${reasonText(reason)}`, {
      cause: reason,
    });
    this.name = 'AbortError';
    this.memoUri = memoUri;
  }
}

function reasonText(reason: unknown): string {
  if (reason instanceof Error) return `: ${reason.message}`;
  return reason === undefined ? '' : `: ${String(reason)}`;
}

/** An `invocation` file that cannot be what memocall wrote: a memocall (or storage) failure. */
export class BadInvocationError extends MemocallError {
  constructor(uri: string, detail: string, options?: { cause?: unknown }) {
    super('MEMOCALL_BAD_INVOCATION', `${redactUri(uri)}: ${detail}`, options);
  }
}
