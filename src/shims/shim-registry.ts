import { ConfigurationError } from '../core/configuration-error.js';
import { samethread } from './samethread.js';
import type { Shim } from './shim.js';
import { subprocess } from './subprocess/subprocess-shim.js';

const factories = new Map<string, () => Shim>([
  ['samethread', samethread],
  ['subprocess', () => subprocess()],
]);

/** Makes a shim available by name to `pure` and `MEMOCALL_SHIM` (e.g. `subprocess`). */
export function registerShim(name: string, factory: () => Shim): void {
  factories.set(name, factory);
}

export function shimByName(name: string): Shim {
  const factory = factories.get(name);
  if (!factory)
    throw new ConfigurationError(
      `unknown shim ${JSON.stringify(name)}: known are off, ${[...factories.keys()].join(', ')}`,
    );
  return factory();
}
