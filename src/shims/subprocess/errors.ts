import { MemocallError } from '../../core/memocall-error.js';

/**
 * A shim's child process failed as infrastructure (it could not start, memocall itself failed in
 * it, or a signal nobody sent killed it): not the user's error, and nothing was stored.
 */
export class SubprocessError extends MemocallError {
  readonly memoUri: string;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last lines the child wrote to stderr. */
  readonly stderrTail: string;

  constructor(
    memoUri: string,
    detail: string,
    opts: { exitCode?: number | null; signal?: NodeJS.Signals | null; stderrTail?: string; cause?: unknown } = {},
  ) {
    const tail = opts.stderrTail ? `\n--- last lines of its stderr ---\n${opts.stderrTail}` : '';
    super(
      'MEMOCALL_SUBPROCESS_FAILED',
      `${memoUri}: ${detail}${tail}`,
      opts.cause === undefined ? undefined : { cause: opts.cause },
    );
    this.memoUri = memoUri;
    this.exitCode = opts.exitCode ?? null;
    this.signal = opts.signal ?? null;
    this.stderrTail = opts.stderrTail ?? '';
  }
}
