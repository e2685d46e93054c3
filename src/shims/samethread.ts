import { runInvocation } from '../execute/remote-entry.js';
import type { Shim } from './shim.js';

/** Marks shims that run the invocation in the calling process (the in-memory hand-over applies). */
export const IN_PROCESS = Symbol('memocall.inProcessShim');

/** The default shim: runs the invocation in the calling process, on the caller's event loop. */
export function samethread(): Shim {
  const shim: Shim = async ({ memoUri, writerId }) => {
    await runInvocation({ memoUri, writerId });
  };
  return Object.assign(shim, { [IN_PROCESS]: true });
}

export function runsInProcess(shim: Shim): boolean {
  return (shim as { [IN_PROCESS]?: boolean })[IN_PROCESS] === true;
}
