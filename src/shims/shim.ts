import type { RunRequest } from '../protocol/run-request.js';

/**
 * Runs an invocation somewhere and resolves when it has finished, whatever its outcome (which is
 * read from storage afterwards). A shim rejects only for infrastructure failures (the process
 * could not start, the Job vanished).
 *
 * A plain function is a shim. A shim with a concurrency limit may also expose `slots`: the
 * runner then takes a slot *before* it takes the lease, so a call queued for a slot never holds
 * a lease that a running call (possibly in a child process) is waiting for.
 */
export interface Shim {
  (request: ShimRequest, ctx: ShimContext): Promise<void>;
  /** The shim's concurrency limit, when it has one. */
  slots?: ShimSlots;
}

/**
 * The invocation to run, under the caller's lease. In the shim's own process it goes to
 * `runInvocation(request)`; across a process boundary, `argv` is `memocall run`'s command line
 * for it (`['run', memoUri, '--writer-id=ID']`, the whole of what a shim received in memocall 0.1).
 */
export interface ShimRequest extends RunRequest {
  writerId: string;
  readonly argv: readonly string[];
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
