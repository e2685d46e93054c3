import { BlobNotFoundError } from '../blobstore/errors.js';
import { ConfigurationError } from '../core/configuration-error.js';
import { runAndReport } from '../execute/run-and-report.js';
import { memoFile } from '../protocol/memo-uri.js';
import { parseRunArgv } from '../protocol/run-argv.js';
import { RUN_EXIT, type RunRequest } from '../protocol/run-request.js';
import type { Output } from './output.js';
import { memoUriArgument } from './uri-argument.js';
import { UsageError } from './usage-error.js';

/**
 * `memocall run <memo-uri> [--writer-id=ID]` (the arguments after `run`, as given: parsed by
 * `parseRunArgv`, the one place run requests are read from a command line): runs one stored
 * invocation and returns the exit code (RUN_EXIT). Internal failures throw (exit 1).
 */
export async function runCommand(args: string[], output: Output): Promise<number> {
  let request: RunRequest;
  try {
    request = parseRunArgv(['run', ...args], (flag) => output.warn('run', `ignoring unknown option ${flag}`));
  } catch (err) {
    if (err instanceof ConfigurationError) throw new UsageError('expected: run <memo-uri> [--writer-id=ID]');
    throw err;
  }
  request.memoUri = memoUriArgument(request.memoUri);
  try {
    return await runAndReport(request);
  } catch (err) {
    if (!(err instanceof BlobNotFoundError) || err.uri !== memoFile.invocation(request.memoUri)) throw err;
    // Started by a shim this is memocall's own failure (exit 1, as RUN_EXIT says); typed by hand, a wrong URI.
    output.warn('run', `nothing is stored at ${request.memoUri} (no invocation record)`);
    return request.writerId === undefined ? 2 : RUN_EXIT.internal;
  }
}
