import { resolveConfig, type MemocallConfig } from './config.js';
import { MemoizingRunner } from './memoizing-runner.js';
import { shimByName } from '../shims/shim-registry.js';
import type { Shim } from '../shims/shim.js';
import { useRunner, type Memoized, type UseRunnerOptions } from './use-runner.js';

export interface PureOptions extends UseRunnerOptions {
  blobRoot?: string;
  pipelineId?: string;
  /** A shim, a registered shim name, or `'off'` for the bare function. */
  shim?: Shim | string;
  rerunErrors?: boolean;
  leaseTtlMs?: number;
}

const runners = new Map<string, MemoizingRunner>();

/** Forgets the runners `pure` built (tests only: see process-state.ts); wrappers made before keep theirs. */
export function forgetPureRunnersForTests(): void {
  runners.clear();
}

/**
 * The easy button: `useRunner` with a runner built from configuration (options >
 * `MEMOCALL_*` environment > `memocall.config.json` > defaults), resolved at the first call.
 */
export function pure<A extends unknown[], R>(
  fn: (...args: A) => R,
  opts: PureOptions = {},
): Memoized<A, R, (...args: A) => R> {
  const { id, logicKey, calls, shim, ...settings } = opts;
  let runner: MemoizingRunner | 'off' | undefined;
  const resolve = () =>
    (runner ??= runnerFor(
      { ...settings, ...(typeof shim === 'string' ? { shim } : {}) },
      typeof shim === 'function' ? shim : undefined,
    ));
  const useOpts: UseRunnerOptions = {};
  if (id !== undefined) useOpts.id = id;
  if (logicKey !== undefined) useOpts.logicKey = logicKey;
  if (calls !== undefined) useOpts.calls = calls;
  return useRunner(resolve, fn, useOpts);
}

function runnerFor(options: Partial<MemocallConfig>, shimFn: Shim | undefined): MemoizingRunner | 'off' {
  const config = resolveConfig(options);
  if (config.shim === 'off' && !shimFn) return 'off';
  const key = JSON.stringify(config);
  let runner = shimFn ? undefined : runners.get(key);
  if (!runner) {
    runner = new MemoizingRunner({
      blobRoot: config.blobRoot,
      pipelineId: config.pipelineId,
      rerunErrors: config.rerunErrors,
      leaseTtlMs: config.leaseTtlMs,
      shim: shimFn ?? shimByName(config.shim),
    });
    if (!shimFn) runners.set(key, runner);
  }
  return runner;
}
