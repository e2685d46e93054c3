import { ConfigurationError } from '../core/configuration-error.js';
import type { RunRequest } from './run-request.js';

// The one place a run request becomes command-line arguments and back: only where it crosses a
// process boundary (a child process, a Kubernetes Job, `memocall run` typed by hand, a queued job).

/** `['run', memoUri, '--writer-id=ID']`: `=` because writer ids are base64url and may start with '-'. */
export function runArgv(request: RunRequest): string[] {
  const argv = ['run', request.memoUri];
  if (request.writerId !== undefined) argv.push(`--writer-id=${request.writerId}`);
  return argv;
}

/**
 * `['run', memoUri, '--writer-id=ID']` (or `'--writer-id', ID`) → a run request. Other flags are
 * ignored, so an older remote still serves a newer caller; `onUnknown` hears of them.
 */
export function parseRunArgv(argv: readonly string[], onUnknown?: (flag: string) => void): RunRequest {
  const [command, ...rest] = argv;
  const positionals: string[] = [];
  let writerId: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--writer-id') writerId = rest[++i];
    else if (arg.startsWith('--writer-id=')) writerId = arg.slice('--writer-id='.length);
    else if (arg.startsWith('--')) onUnknown?.(arg);
    else positionals.push(arg);
  }
  const memoUri = positionals[0];
  if (command !== 'run' || memoUri === undefined || positionals.length > 1 || writerId === '') {
    throw new ConfigurationError(`expected: run <memo-uri> [--writer-id=ID], got: ${argv.join(' ')}`);
  }
  const request: RunRequest = { memoUri: memoUri.replace(/\/+$/, '') };
  if (writerId !== undefined) request.writerId = writerId;
  return request;
}
