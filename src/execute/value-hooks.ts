import type { MemoUriParts } from '../protocol/memo-uri.js';

/**
 * Generic points where other layers may do asynchronous work on argument and result values
 * around the runner's synchronous encoding (files are the user: hashing local files before the
 * key is computed, uploading them on a miss, uploading returned files, writing pointer files).
 * The runner knows nothing about what the hooks do.
 *
 * Every hook returns `undefined` when it has nothing to do, so the memo-hit path pays no
 * Promise and no microtask for them.
 */

/** Caller side, before the arguments are encoded: make every value encodable (e.g. compute content hashes). */
export type ArgumentPreparer = (args: readonly unknown[]) => Promise<void> | undefined;

export interface ShipContext {
  memoUri: string;
  memo: MemoUriParts;
  /** True when the shim runs the function in this process (values need not travel). */
  inProcess: boolean;
}

/** Caller side, on a miss only, before the invocation is written: make the values readable where the shim runs. */
export type ArgumentShipper = (args: readonly unknown[], ctx: ShipContext) => Promise<void> | undefined;

export interface FinalizeContext {
  memoUri: string;
  memo: MemoUriParts;
  runId: string;
}

/**
 * Runner side, after the user's function returned and before its result is encoded and written:
 * e.g. upload returned files. May resolve to warnings, recorded in the run's metadata.
 * Throwing makes the call fail like the function itself had thrown.
 */
export type ResultFinalizer = (value: unknown, ctx: FinalizeContext) => Promise<string[] | undefined> | undefined;

export interface ValidateContext {
  memoUri: string;
  blobRoot: string;
}

/**
 * Caller side, before a stored result (or one this process cached) is used, given its encoded
 * value: resolves to false when it must not be used (e.g. a file it returned was overwritten
 * since); the call then runs again and replaces it.
 */
export type ResultValidator = (encoded: Uint8Array, ctx: ValidateContext) => Promise<boolean> | undefined;

export interface ReceiveContext {
  memoUri: string;
  blobRoot: string;
  /** The caller's own argument values (what the result may be matched against: stored data is never trusted). */
  args: readonly unknown[];
}

/** Caller side, after the result value was decoded (hits included), before the caller gets it. */
export type ResultReceiver = (value: unknown, ctx: ReceiveContext) => Promise<void> | undefined;

const preparers: ArgumentPreparer[] = [];
const shippers: ArgumentShipper[] = [];
const finalizers: ResultFinalizer[] = [];
const receivers: ResultReceiver[] = [];
const validators: ResultValidator[] = [];

function addOnce<T>(list: T[], hook: T): void {
  if (!list.includes(hook)) list.push(hook);
}

export function registerArgumentPreparer(hook: ArgumentPreparer): void {
  addOnce(preparers, hook);
}

export function registerArgumentShipper(hook: ArgumentShipper): void {
  addOnce(shippers, hook);
}

export function registerResultFinalizer(hook: ResultFinalizer): void {
  addOnce(finalizers, hook);
}

export function registerResultReceiver(hook: ResultReceiver): void {
  addOnce(receivers, hook);
}

export function registerResultValidator(hook: ResultValidator): void {
  addOnce(validators, hook);
}

/** Starts every hook; a Promise of all their results, or undefined when none had work. */
function runAll<H extends (...a: any[]) => Promise<unknown> | undefined>(
  hooks: readonly H[],
  args: Parameters<H>,
): Promise<unknown[]> | undefined {
  let pending: Promise<unknown>[] | undefined;
  for (const hook of hooks) {
    const result = hook(...args);
    if (result) (pending ??= []).push(result);
  }
  return pending && Promise.all(pending);
}

export function prepareArguments(args: readonly unknown[]): Promise<unknown> | undefined {
  return runAll(preparers, [args]);
}

export function shipArguments(args: readonly unknown[], ctx: ShipContext): Promise<unknown> | undefined {
  return runAll(shippers, [args, ctx]);
}

/** The warnings of all finalizers, or undefined when none had work. */
export function finalizeResult(value: unknown, ctx: FinalizeContext): Promise<string[]> | undefined {
  return runAll(finalizers, [value, ctx])?.then((all) => all.flatMap((w) => (Array.isArray(w) ? (w as string[]) : [])));
}

export function receiveResult(value: unknown, ctx: ReceiveContext): Promise<unknown> | undefined {
  return runAll(receivers, [value, ctx]);
}

/** Whether every validator accepts the result; undefined when none had work. */
export function validateResult(encoded: Uint8Array, ctx: ValidateContext): Promise<boolean> | undefined {
  return runAll(validators, [encoded, ctx])?.then((all) => all.every((ok) => ok !== false));
}
