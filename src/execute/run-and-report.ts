import { exitCodeOf, type RunRequest } from '../protocol/run-request.js';
import { runInvocation } from './remote-entry.js';

/**
 * Runs one request as the program `memocall run` (the CLI's, a subprocess child's): returns its
 * exit code (RUN_EXIT); internal failures throw (exit 1).
 */
export async function runAndReport(request: RunRequest): Promise<number> {
  // A remote whose caller died (its output pipes closed) must still finish and write its result.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  const report = await runInvocation(request);
  // Started by a shim, only the unusual is worth a line; started by hand, say what happened.
  if (
    request.writerId === undefined ||
    report.status === 'lease-lost' ||
    report.status === 'already-done' ||
    report.status === 'lost-race'
  ) {
    process.stderr.write(`memocall run: ${report.status}: ${report.detail} (run ${report.runId})\n`);
  }
  return exitCodeOf(report.status);
}
