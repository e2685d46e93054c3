import { parseRunArgv, runInvocation } from './remote-entry.js';
import type { Shim } from './shim.js';

/** The default shim: runs the invocation in the calling process, on the caller's event loop. */
export function samethread(): Shim {
  return async (argv) => {
    await runInvocation(parseRunArgv(argv));
  };
}
