import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { codeRootOf } from './code-root.js';
import { ConfigurationError } from './errors.js';
import { lookupFunction, type RegisteredFunction } from './function-registry.js';
import type { InvocationRecord } from './invocation-record.js';

const CANDIDATE_EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts', '.tsx', '.jsx'];

/**
 * Finds the function an invocation names: already registered in this process, or registered by
 * importing its module from the code root (`MEMOCALL_CODE_ROOT`, else the nearest package.json
 * above the working directory). The compiled file that ran on the caller is preferred, then the
 * source module by id.
 */
export async function resolveInvokedFunction(invocation: InvocationRecord): Promise<RegisteredFunction> {
  const known = lookupFunction(invocation.functionId);
  if (known) return known;
  const root = process.env.MEMOCALL_CODE_ROOT ?? codeRootOf(process.cwd());
  const candidates: string[] = [];
  if (invocation.runtimeModule) candidates.push(path.join(root, invocation.runtimeModule));
  for (const ext of CANDIDATE_EXTENSIONS) candidates.push(path.join(root, invocation.moduleId + ext));
  const file = candidates.find((candidate) => existsSync(candidate));
  if (!file) {
    throw new ConfigurationError(
      `cannot find the module of ${invocation.functionId} under code root ${root} (tried ${candidates.map((c) => path.relative(root, c)).join(', ')}); set MEMOCALL_CODE_ROOT`,
    );
  }
  await import(pathToFileURL(file).href);
  const found = lookupFunction(invocation.functionId);
  if (!found) {
    throw new ConfigurationError(`${path.relative(root, file)} was imported but defines no memoized function with id ${invocation.functionId}`);
  }
  return found;
}
