import { runAndReport } from '../execute/run-and-report.js';
import { ConfigurationError } from '../core/configuration-error.js';
import { parseRunArgv } from '../protocol/run-argv.js';
import type { RunRequest } from '../protocol/run-request.js';
import { UsageError } from './usage-error.js';

export const RUN_USAGE = `  run <memo-uri> [--writer-id=ID]   the remote entry: run one stored invocation
                                    exit 0 result written (or already there), 46 the function
                                    threw, 47 the lease belongs to someone else, 1 internal failure;
                                    without --writer-id (by hand) it takes a lease of its own
`;

/**
 * `memocall run <memo-uri> [--writer-id=ID]` (the arguments after `run`): runs one stored
 * invocation and returns the exit code (RUN_EXIT). Internal failures throw (exit 1).
 */
export async function runCommand(args: string[]): Promise<number> {
  let request: RunRequest;
  try {
    request = parseRunArgv(['run', ...args], (flag) =>
      process.stderr.write(`memocall run: ignoring unknown option ${flag}\n`),
    );
  } catch (err) {
    if (err instanceof ConfigurationError) throw new UsageError(err.message);
    throw err;
  }
  return runAndReport(request);
}
