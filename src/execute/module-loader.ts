import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { codeRootOf } from '../identity/code-root.js';
import { ConfigurationError } from '../core/configuration-error.js';
import { lookupFunction, type RegisteredFunction } from '../identity/function-registry.js';
import type { InvocationRecord } from '../protocol/invocation-record.js';

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
  const ownRoot = process.env.MEMOCALL_CODE_ROOT ?? codeRootOf(process.cwd());
  // The caller's root, recorded in the invocation, serves a remote on the same machine (a run
  // started by hand from another directory); elsewhere it does not exist and is skipped.
  const roots = invocation.codeRoot && invocation.codeRoot !== ownRoot ? [ownRoot, invocation.codeRoot] : [ownRoot];
  const candidates: string[] = [];
  for (const root of roots) {
    if (invocation.runtimeModule) candidates.push(path.join(root, invocation.runtimeModule));
    for (const ext of CANDIDATE_EXTENSIONS) candidates.push(path.join(root, invocation.moduleId + ext));
  }
  const file = candidates.find((candidate) => existsSync(candidate));
  if (!file) {
    const tried = [...new Set(candidates.map((c) => path.relative(ownRoot, c)))].join(', ');
    throw new ConfigurationError(
      `cannot find the module of ${invocation.functionId} under code root ${roots.join(' or ')} (tried ${tried}); set MEMOCALL_CODE_ROOT`,
    );
  }
  await import(pathToFileURL(file).href);
  const found = lookupFunction(invocation.functionId);
  if (!found) {
    throw new ConfigurationError(
      `${file} was imported but defines no memoized function with id ${invocation.functionId}`,
    );
  }
  return found;
}
