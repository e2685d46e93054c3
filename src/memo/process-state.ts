import { processResultCache } from '../execute/result-cache.js';
import { forgetHandoffsForTests } from '../execute/same-process-handoff.js';
import { forgetResolvedCallsForTests } from './memoizing-runner.js';
import { forgetPureRunnersForTests } from './pure.js';

/**
 * For tests only (index.ts does not export it): makes this process remember no result, as a new
 * process would, so a test of "reads from storage" cannot pass on memory. It clears the
 * process-wide result cache, the runner's index of resolved calls, pending same-process
 * hand-overs and `pure`'s runners. It keeps what is configuration, not memory of results (the
 * registries of stores, shims, codecs, functions and value hooks), and what tracks live resources
 * (held leases, child processes, Jobs, termination handlers); the AsyncLocalStorage contexts hold
 * nothing outside a call. Throws if a call is in flight.
 */
export function resetProcessStateForTests(): void {
  forgetResolvedCallsForTests();
  forgetPureRunnersForTests();
  forgetHandoffsForTests();
  processResultCache.clear();
}
