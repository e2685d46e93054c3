import { callsSegmentOf, type CallsNode } from './calls-segment.js';
import { ConfigurationError } from '../core/configuration-error.js';
import { functionIdOf, locateCaller, validateId, type FunctionLocation } from '../identity/function-identity.js';
import { registerFunction } from '../identity/function-registry.js';
import type { FunctionSpec, MemoizingRunner } from './memoizing-runner.js';
import { callsItselfByName, warnRecursionTrap } from './recursion-trap.js';
import { prepareArguments } from '../execute/value-hooks.js';
import { currentInvocation } from '../execute/invocation-context.js';
import { noteNestedCall, registerCallsNode } from './undeclared-calls.js';

/**
 * A memoized function: called like the original, always returning a Promise. `F`, the original
 * function's type (what `raw` is), is inferred by `useRunner`; an annotation may leave it out
 * (`Memoized<[number], bigint>` then fits a sync or an async original).
 */
export type Memoized<
  A extends unknown[],
  R,
  F extends (...args: A) => unknown = (...args: A) => R | Promise<Awaited<R>>,
> = ((...args: A) => Promise<Awaited<R>>) & MemoizedInfo<A, F>;

export interface MemoizedInfo<A extends unknown[], F extends (...args: A) => unknown = (...args: A) => unknown> {
  /** `<module id>--<export name>`, or the explicit `id`. */
  readonly functionId: string;
  readonly logicKey: string | undefined;
  /** Where a call with these arguments is (or would be) stored; computes nothing. */
  memoUri(...args: A): Promise<string>;
  /** The function as written, without memoization. */
  readonly raw: F;
  /** @internal the callee graph for `calls`. */
  readonly calls: readonly CallsNode[];
}

/** Any memoized function, for `calls: [...]`. */
export type AnyMemoized = Memoized<any[], unknown>;

export interface UseRunnerOptions {
  /** Overrides the inferred `<module id>--<export name>` (one or more `/`-separated segments). */
  id?: string;
  /** Change it when the function's logic changes: results of the old logic are no longer found. */
  logicKey?: string;
  /** Memoized functions this one calls: their logic keys become part of this one's memo URI. */
  calls?: readonly AnyMemoized[];
}

/** What `useRunner(runner, opts)` returns: a wrapper, also usable as a decorator on static methods. */
export interface MemoizeWrapper {
  <A extends unknown[], R>(fn: (...args: A) => R): Memoized<A, R, (...args: A) => R>;
  <A extends unknown[], R>(
    fn: (...args: A) => R,
    context: ClassMethodDecoratorContext & { static: true },
  ): Memoized<A, R, (...args: A) => R>;
}

/** Decides, per call, which runner serves the function (or none, for the bare function). */
export type RunnerSource = MemoizingRunner | (() => MemoizingRunner | 'off');

export function useRunner<A extends unknown[], R>(
  runner: RunnerSource,
  fn: (...args: A) => R,
  opts?: UseRunnerOptions,
): Memoized<A, R, (...args: A) => R>;
export function useRunner(runner: RunnerSource, opts?: UseRunnerOptions): MemoizeWrapper;
export function useRunner(
  runner: RunnerSource,
  fnOrOpts?: ((...args: any[]) => unknown) | UseRunnerOptions,
  maybeOpts?: UseRunnerOptions,
): unknown {
  const location = locateCaller(useRunner);
  if (typeof fnOrOpts === 'function') return memoize(runner, fnOrOpts, maybeOpts ?? {}, location);
  const opts = fnOrOpts ?? {};
  return (fn: (...args: any[]) => unknown, context?: ClassMethodDecoratorContext) => {
    if (!context) return memoize(runner, fn, opts, location);
    if (context.kind !== 'method' || !context.static) {
      throw new ConfigurationError(
        `useRunner can decorate static methods only (${String(context.name)} is not one): an instance would be part of the arguments`,
      );
    }
    // The class is only known once defined (initializers run then); its name is read at first
    // use, since some compilers set it after running initializers.
    let klass: { name?: string } | undefined;
    let bound = fn;
    context.addInitializer(function (this: unknown) {
      klass = this as { name?: string };
      bound = fn.bind(this); // static methods may use `this` for the class
    });
    const methodName = String(context.name);
    const callMethod = (...args: unknown[]) => bound(...args);
    return memoize(runner, callMethod, opts, { ...location, bindingName: undefined }, () =>
      klass?.name ? `${klass.name}.${methodName}` : methodName,
    );
  };
}

function memoize(
  runnerSource: RunnerSource,
  raw: (...args: any[]) => unknown,
  opts: UseRunnerOptions,
  location: FunctionLocation,
  lateName?: () => string,
): AnyMemoized {
  if (typeof raw !== 'function')
    throw new ConfigurationError(`useRunner needs a function to memoize, got ${typeof raw}`);
  if (opts.logicKey !== undefined) validateId(opts.logicKey, 'logicKey');
  const calls: CallsNode[] = [...(opts.calls ?? [])];
  let functionId: string | undefined = lateName ? undefined : functionIdOf(location, raw.name, opts.id);
  let callsSegment: string | null = null;

  const spec: FunctionSpec = {
    get functionId() {
      return (functionId ??= identify());
    },
    logicKey: opts.logicKey,
    callsSegment: () => (callsSegment ??= callsSegmentOf(node) ?? '') || undefined,
    moduleId: location.moduleId,
    runtimeModule: location.runtimeModule,
  };
  const node: CallsNode = {
    get functionId() {
      return spec.functionId;
    },
    logicKey: opts.logicKey,
    calls,
  };

  const identify = (): string => {
    const id = functionIdOf({ ...location, bindingName: lateName?.() }, raw.name, opts.id);
    registerFunction({ functionId: id, raw, location });
    registerCallsNode(id, node);
    return id;
  };
  if (functionId !== undefined) {
    registerFunction({ functionId, raw, location });
    registerCallsNode(functionId, node);
    if (callsItselfByName(raw)) warnRecursionTrap(functionId, raw.name);
  }

  const resolveRunner = typeof runnerSource === 'function' ? runnerSource : () => runnerSource;
  const memoized = async function (this: unknown, ...args: unknown[]): Promise<unknown> {
    if (process.env.MEMOCALL_OFF === '1') return raw(...args);
    const runner = resolveRunner();
    if (runner === 'off') return raw(...args);
    const caller = currentInvocation(); // a nested call: is it declared in the caller's `calls`?
    if (caller) noteNestedCall(caller, node);
    return runner.call(spec, args);
  } as AnyMemoized;

  Object.defineProperties(memoized, {
    functionId: { get: () => spec.functionId, enumerable: true },
    logicKey: { value: opts.logicKey, enumerable: true },
    raw: { value: raw },
    calls: { value: calls },
    name: { value: raw.name || location.bindingName || 'memoized' },
    memoUri: {
      value: async (...args: unknown[]) => {
        const runner = resolveRunner();
        if (runner === 'off')
          throw new ConfigurationError(
            `${spec.functionId} is not memoized (MEMOCALL shim is 'off'): it has no memo URI`,
          );
        await prepareArguments(args); // e.g. content hashes of files, part of the key
        return runner.memoUriOf(spec, args);
      },
    },
  });
  return memoized;
}
