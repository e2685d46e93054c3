/** What a shim (or `memocall run`) is asked to do: run the invocation stored at `memoUri`. */
export interface RunRequest {
  memoUri: string;
  /**
   * The caller's lease writer id: the run is fenced by it (checked before running and before
   * writing). Absent (a person running `memocall run <uri>` to debug): the run takes a lease of
   * its own, so it never races a live caller, and skips the work if a result already exists.
   */
  writerId?: string;
}

/** Exit codes of `memocall run`, so shims (and Kubernetes pod failure policies) can tell them apart. */
export const RUN_EXIT = {
  /** `result` is written: by this run, by an earlier one (nothing ran), or by a racing one. */
  ok: 0,
  /** memocall itself failed (storage, a bad invocation, a missing module...): nothing was written. */
  internal: 1,
  /** The user's function threw; `error` is written. */
  userError: 46,
  /** The lease belongs to another writer: the function was not run, or its result not written. */
  leaseLost: 47,
} as const;

/**
 * `ok`: this run wrote `result`. `already-done`: a result existed, nothing ran. `lost-race`: the
 * function ran but another run's result was first. `user-error`: `error` is written.
 * `lease-lost`: the lease is another writer's, so nothing (more) was written.
 */
export type RunStatus = 'ok' | 'already-done' | 'lost-race' | 'user-error' | 'lease-lost';

/** Exit code of `memocall run` for a status. */
export function exitCodeOf(status: RunStatus): number {
  if (status === 'user-error') return RUN_EXIT.userError;
  if (status === 'lease-lost') return RUN_EXIT.leaseLost;
  return RUN_EXIT.ok;
}
