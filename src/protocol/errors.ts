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
    super(
      'MEMOCALL_REMOTE_ERROR',
      stored.message,
      stored.cause ? { cause: reviveCause(stored.cause, memoUri) } : undefined,
    );
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

/** The shim reported the invocation finished, but neither `result` nor `error` was written. */
export class NoResultError extends MemocallError {
  readonly memoUri: string;

  constructor(memoUri: string, detail = 'the shim finished but wrote neither result nor error') {
    super('MEMOCALL_NO_RESULT', `${memoUri}: ${detail}`);
    this.memoUri = memoUri;
  }
}
