import '../blobstore/cloud/cloud-stores.js'; // s3:// and adls:// roots, registered lazily
import '../files/register.js'; // file values (codecs and hooks) must work in every remote
import { exitCodeOf, parseRunArgv, runInvocation, type RunRequest } from '../execute/remote-entry.js';

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
    throw new RunUsageError((err as Error).message);
  }
  const { writerId } = request;
  // A remote whose caller died (its output pipes closed) must still finish and write its result.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  const report = await runInvocation(request);
  // Started by a shim, only the unusual is worth a line; started by hand, say what happened.
  if (
    writerId === undefined ||
    report.status === 'lease-lost' ||
    report.status === 'already-done' ||
    report.status === 'lost-race'
  ) {
    process.stderr.write(`memocall run: ${report.status}: ${report.detail} (run ${report.runId})\n`);
  }
  return exitCodeOf(report.status);
}

export class RunUsageError extends Error {}
