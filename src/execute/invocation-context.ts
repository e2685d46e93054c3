import { AsyncLocalStorage } from 'node:async_hooks';
import type { MemoUriParts } from '../protocol/memo-uri.js';

/** What code running inside an invocation can know about it. */
export interface InvocationContext {
  memoUri: string;
  memo: MemoUriParts;
  runId: string;
  parent: InvocationContext | undefined;
  /** Memoized functions called inside it, by id: whether its `calls` declare each (for the run record). */
  nestedCalls?: Map<string, boolean>;
}

const current = new AsyncLocalStorage<InvocationContext>();

export function runInInvocation<T>(context: Omit<InvocationContext, 'parent'>, fn: () => T): T {
  return current.run({ ...context, parent: current.getStore() }, fn);
}

export function currentInvocation(): InvocationContext | undefined {
  return current.getStore();
}

/** True when `memoUri` is already being computed further up this async call chain. */
export function isRunningAbove(memoUri: string): boolean {
  for (let ctx = current.getStore(); ctx; ctx = ctx.parent) if (ctx.memoUri === memoUri) return true;
  return false;
}
