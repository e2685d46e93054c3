import { resetProcessStateForTests } from '../../src/memo/process-state.js';

/**
 * Makes this test process remember no result, as if the next call came from a new process: what
 * it returns must then come from storage (or be computed again). Call it with no call in flight.
 */
export function asNewProcess(): void {
  resetProcessStateForTests();
}
