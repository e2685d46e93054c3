/**
 * Runs an invocation somewhere and resolves when it has finished, whatever its outcome (which is
 * read from storage afterwards). `argv` is the remote entry's: `['run', memoUri, '--writer-id', id]`.
 * A shim rejects only for infrastructure failures (the process could not start, the Job vanished).
 *
 * A plain function is a shim. A shim with a concurrency limit may also expose `slots`: the
 * runner then takes a slot *before* it takes the lease, so a call queued for a slot never holds
 * a lease that a running call (possibly in a child process) is waiting for.
 */
export interface Shim {
  (argv: string[], ctx: ShimContext): Promise<void>;
  /** The shim's concurrency limit, when it has one. */
  slots?: ShimSlots;
}

export interface ShimContext {
  memoUri: string;
  functionId: string;
  /** Aborted when the caller gives up or the lease is lost: stop the work, release resources. */
  signal?: AbortSignal;
  /** True when the caller already holds one of the shim's `slots` for this run. */
  slotHeld?: boolean;
}

export interface ShimSlots {
  /** Waits for a free slot (rejects if `signal` fires first); the returned function frees it. */
  acquire(signal?: AbortSignal): Promise<() => void>;
}
