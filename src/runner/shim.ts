/**
 * Runs an invocation somewhere and resolves when it has finished, whatever its outcome (which is
 * read from storage afterwards). `argv` is the remote entry's: `['run', memoUri, '--writer-id', id]`.
 * A shim rejects only for infrastructure failures (the process could not start, the Job vanished).
 */
export type Shim = (argv: string[], ctx: ShimContext) => Promise<void>;

export interface ShimContext {
  memoUri: string;
  functionId: string;
  /** Aborted when the caller gives up or the lease is lost: stop the work, release resources. */
  signal?: AbortSignal;
}
