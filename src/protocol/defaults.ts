/**
 * Every setting's default, written once. The runner, `pure`, `memocall run` and the leases read
 * them from here; README's configuration table documents them.
 */
export const DEFAULTS = {
  /** Where invocations and results are stored. */
  blobRoot: 'file://~/.memocall',
  /** Groups results: the same function and arguments under another pipeline id run again. */
  pipelineId: 'default',
  /** The shim `pure` uses, by registered name. */
  shim: 'samethread',
  /** A stored error is ignored and the call runs again. */
  rerunErrors: true,
  /** A lease not refreshed for this long may be taken over by another caller. */
  leaseTtlMs: 90_000,
  /** First wait of a caller that finds the call running elsewhere; doubles each poll. */
  waitInitialMs: 1_000,
  /** Longest wait between two polls. */
  waitMaxMs: 20_000,
  /** Cap of the process-wide cache of results read or written (env `MEMOCALL_RESULT_CACHE_BYTES`). */
  resultCacheBytes: 64 * 1024 * 1024,
} as const;

/** How often a held lease is refreshed by default: half its TTL (so one missed refresh is survived). */
export function defaultLeaseRefreshMs(ttlMs: number): number {
  return Math.max(10, Math.floor(ttlMs / 2));
}
