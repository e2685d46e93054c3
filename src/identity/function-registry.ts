import { ConfigurationError } from '../core/configuration-error.js';
import type { FunctionLocation } from './function-identity.js';

/** What the remote entry needs to run a memoized function found by id. */
export interface RegisteredFunction {
  functionId: string;
  raw: (...args: any[]) => unknown;
  location: FunctionLocation;
}

const byId = new Map<string, RegisteredFunction>();

/**
 * Every memoized function of this process, by id. Importing a module registers its functions,
 * so a remote finds a function by importing its module, exported or not.
 * Two *different* functions under one id would share memo entries (wrong results), so that is
 * an error; the same source registered again (a module loaded twice) is not.
 */
export function registerFunction(entry: RegisteredFunction): void {
  const existing = byId.get(entry.functionId);
  if (existing && existing.raw !== entry.raw && existing.raw.toString() !== entry.raw.toString()) {
    throw new ConfigurationError(
      `two different functions share the id ${JSON.stringify(entry.functionId)}; their memo entries would collide. Give one of them an explicit { id }`,
    );
  }
  byId.set(entry.functionId, entry);
}

export function lookupFunction(functionId: string): RegisteredFunction | undefined {
  return byId.get(functionId);
}
