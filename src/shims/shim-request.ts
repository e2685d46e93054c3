import { runArgv } from '../protocol/run-argv.js';
import type { ShimRequest } from './shim.js';

/** The request a runner hands its shim; `argv` is built only if a shim reads it. */
export function shimRequest(memoUri: string, writerId: string): ShimRequest {
  let argv: readonly string[] | undefined;
  return {
    memoUri,
    writerId,
    get argv() {
      return (argv ??= Object.freeze(runArgv({ memoUri, writerId })));
    },
  };
}
