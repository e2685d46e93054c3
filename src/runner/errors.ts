import { MemocallError } from '../core/memocall-error.js';

/** The shape in which an error thrown by a memoized function is stored (`error` file). */
export interface StoredError {
  name: string;
  message: string;
  stack?: string;
  code?: string | number;
  cause?: StoredError | { value: unknown };
  /** Own enumerable properties that could be encoded (others are listed in `droppedProps`). */
  props?: Record<string, unknown>;
  droppedProps?: string[];
}

/**
 * An error that a memoized function threw in another process (or an earlier run), read back
 * from storage. `name` and `message` are the original's; `remoteStack` is the original stack.
 */
export class RemoteError extends MemocallError {
  readonly remoteName: string;
  readonly remoteStack: string | undefined;
  readonly memoUri: string;
  /** Own properties the original error carried (e.g. `statusCode`), when they could be encoded. */
  readonly props: Record<string, unknown>;

  constructor(stored: StoredError, memoUri: string) {
    super('MEMOCALL_REMOTE_ERROR', stored.message, stored.cause ? { cause: reviveCause(stored.cause, memoUri) } : undefined);
    this.name = stored.name;
    this.remoteName = stored.name;
    this.remoteStack = stored.stack;
    this.memoUri = memoUri;
    this.props = stored.props ?? {};
    if (stored.stack) this.stack = `${stored.stack}\n    --- re-thrown by memocall from ${memoUri}/error ---`;
  }
}

function reviveCause(cause: StoredError | { value: unknown }, memoUri: string): unknown {
  return 'value' in cause && !('message' in cause) ? cause.value : new RemoteError(cause as StoredError, memoUri);
}

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

/** The shim reported the invocation finished, but neither `result` nor `error` was written. */
export class NoResultError extends MemocallError {
  readonly memoUri: string;

  constructor(memoUri: string, detail = 'the shim finished but wrote neither result nor error') {
    super('MEMOCALL_NO_RESULT', `${memoUri}: ${detail}`);
    this.memoUri = memoUri;
  }
}

/** Bad configuration or a misuse of the API that can be reported before any work is done. */
export class ConfigurationError extends MemocallError {
  constructor(message: string) {
    super('MEMOCALL_CONFIGURATION', message);
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
    super('MEMOCALL_ABORTED', `the call ${memoUri ? `to ${memoUri} ` : ''}was aborted${reasonText(reason)}`, { cause: reason });
    this.name = 'AbortError';
    this.memoUri = memoUri;
  }
}

function reasonText(reason: unknown): string {
  if (reason instanceof Error) return `: ${reason.message}`;
  return reason === undefined ? '' : `: ${String(reason)}`;
}

/**
 * A shim's child process failed as infrastructure (it could not start, memocall itself failed in
 * it, or a signal nobody sent killed it): not the user's error, and nothing was stored.
 */
export class SubprocessError extends MemocallError {
  readonly memoUri: string;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last lines the child wrote to stderr. */
  readonly stderrTail: string;

  constructor(memoUri: string, detail: string, opts: { exitCode?: number | null; signal?: NodeJS.Signals | null; stderrTail?: string; cause?: unknown } = {}) {
    const tail = opts.stderrTail ? `\n--- last lines of its stderr ---\n${opts.stderrTail}` : '';
    super('MEMOCALL_SUBPROCESS_FAILED', `${memoUri}: ${detail}${tail}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.memoUri = memoUri;
    this.exitCode = opts.exitCode ?? null;
    this.signal = opts.signal ?? null;
    this.stderrTail = opts.stderrTail ?? '';
  }
}

/** An `invocation` file that cannot be what memocall wrote: a memocall (or storage) failure. */
export class BadInvocationError extends MemocallError {
  constructor(uri: string, detail: string) {
    super('MEMOCALL_BAD_INVOCATION', `${uri}: ${detail}`);
  }
}
