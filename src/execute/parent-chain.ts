import { MemocallError } from '../core/memocall-error.js';

/**
 * What a child process knows of the callers above it, so that waits which can never end are
 * refused at once instead of hanging:
 *
 * * its parents' writer ids (`MEMOCALL_PARENT_WRITERS`, comma-separated, nearest last): the leases
 *   the processes above hold while they wait for this one. A call here that finds its lease held
 *   by one of them would wait for a caller that waits for it;
 * * whether it is a shim's child at all (`markShimChild`): there, a memoized call made outside the
 *   invocation it was started for is top-level work of an imported module (the child imports the
 *   function's module to find it), which would compute again what the caller is computing.
 */
export const PARENT_WRITERS_ENV = 'MEMOCALL_PARENT_WRITERS';

let parsedFrom: string | undefined;
let parsed: ReadonlySet<string> = new Set();

/** The writer ids of the callers above this process (empty at the top). */
export function parentWriters(): ReadonlySet<string> {
  const value = process.env[PARENT_WRITERS_ENV] ?? '';
  if (value !== parsedFrom) {
    parsedFrom = value;
    parsed = new Set(value.split(',').filter(Boolean));
  }
  return parsed;
}

/** `MEMOCALL_PARENT_WRITERS` for a child run under `writerId`: this process's parents, then it. */
export function parentWritersForChild(writerId: string): string {
  const own = process.env[PARENT_WRITERS_ENV];
  return own ? `${own},${writerId}` : writerId;
}

let shimChild = false;

/** Called by a shim's child program before it imports anything of the user's. */
export function markShimChild(): void {
  shimChild = true;
}

export function isShimChild(): boolean {
  return shimChild;
}

/**
 * A memoized call made in a shim's child outside the invocation it runs: top-level work of a
 * module the child imported to find the function. It would run the program again in every child,
 * and wait forever for the caller's lease when it calls what the caller is computing.
 */
export class ImportTimeCallError extends MemocallError {
  readonly functionId: string;
  readonly module: string | undefined;

  constructor(functionId: string, module: string | undefined) {
    const where = module ? `the module ${module}` : 'a module';
    super(
      'MEMOCALL_IMPORT_TIME_CALL',
      `${functionId} was called while a child process imported ${where} to run a memoized function in it: ` +
        `the module does work at its top level, which runs again in every child (and waits forever when it calls what the caller is computing). ` +
        `Guard the top-level work so it runs only when the file is the program: ` +
        `if (import.meta.url === pathToFileURL(process.argv[1]).href) { await main(); } ` +
        `(or move it to a file of its own that imports the memoized functions)`,
    );
    this.name = 'ImportTimeCallError';
    this.functionId = functionId;
    this.module = module;
  }
}

/** A call whose lease is held by a caller above this process: that caller waits for this one. */
export class WaitsOnParentError extends MemocallError {
  readonly functionId: string;
  readonly memoUri: string;
  readonly holder: string;

  constructor(functionId: string, memoUri: string, holder: string) {
    super(
      'MEMOCALL_WAITS_ON_PARENT',
      `${functionId} (${memoUri}) is being computed by a caller of this process (writer ${holder}), which waits for this process: ` +
        `waiting for it would never end. A memoized call must not need, directly or through the calls it makes, its own result`,
    );
    this.name = 'WaitsOnParentError';
    this.functionId = functionId;
    this.memoUri = memoUri;
    this.holder = holder;
  }
}
