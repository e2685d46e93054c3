import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { codeRootOf } from '../identity/code-root.js';
import { ConfigurationError } from '../core/configuration-error.js';
import { lookupFunction, type RegisteredFunction } from '../identity/function-registry.js';
import {
  type InvocationRecord,
  MODULE_PATH_FIELDS,
  modulePathProblem,
  quotedModulePath,
} from '../protocol/invocation-record.js';
import { BadInvocationError } from './errors.js';

const CANDIDATE_EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts', '.tsx', '.jsx'];

/**
 * The code root of this process: `MEMOCALL_CODE_ROOT`, else the nearest package.json above the
 * working directory. Decided here, never by a record: a stored invocation is anyone's data.
 */
export function ownCodeRoot(): string {
  const fromEnv = process.env.MEMOCALL_CODE_ROOT;
  return fromEnv ? path.resolve(fromEnv) : codeRootOf(process.cwd());
}

/**
 * Finds the function an invocation names: already registered in this process, or registered by
 * importing its module from this process's code root. The compiled file that ran on the caller
 * (`runtimeModule`) is preferred, then the source module by id (`moduleId` + an extension).
 *
 * The invocation only names a path *inside* the code root: both fields are checked before
 * anything is imported (relative, normalized, no `..`), and the file found must still be inside
 * the root once symlinks are resolved. Otherwise BadInvocationError (`invocationUri` names the
 * record), and nothing is imported. The caller's own code root, recorded in the invocation, is
 * never used.
 */
export async function resolveInvokedFunction(
  invocation: InvocationRecord,
  invocationUri = 'invocation',
): Promise<RegisteredFunction> {
  const known = lookupFunction(invocation.functionId);
  if (known) return known;
  for (const field of MODULE_PATH_FIELDS) {
    const problem = modulePathProblem(field, invocation[field]);
    if (problem) throw new BadInvocationError(invocationUri, `${problem}: a remote imports only inside its code root`);
  }
  const root = ownCodeRoot();
  const realRoot = realDirectory(root);
  const candidates: { field: (typeof MODULE_PATH_FIELDS)[number]; file: string }[] = [];
  if (invocation.runtimeModule)
    candidates.push({ field: 'runtimeModule', file: path.join(root, invocation.runtimeModule) });
  for (const ext of CANDIDATE_EXTENSIONS)
    candidates.push({ field: 'moduleId', file: path.join(root, invocation.moduleId + ext) });
  const found = candidates.find((candidate) => existsSync(candidate.file));
  if (!found) {
    const tried = [...new Set(candidates.map((c) => path.relative(root, c.file)))].join(', ');
    throw new ConfigurationError(
      `cannot find the module of ${invocation.functionId} under code root ${root} (tried ${tried}); run from the project's directory or set MEMOCALL_CODE_ROOT`,
    );
  }
  // A symlink inside the root may point anywhere: what is imported is where it leads.
  const real = realpathSync(found.file);
  if (!isInside(realRoot, real)) {
    throw new BadInvocationError(
      invocationUri,
      `${found.field} ${quotedModulePath(invocation[found.field]!)} resolves (through a symlink) to ${real}, outside the code root ${realRoot}: a remote imports only inside its code root`,
    );
  }
  await import(pathToFileURL(real).href);
  const registered = lookupFunction(invocation.functionId);
  if (!registered) {
    throw new ConfigurationError(
      `${real} was imported but defines no memoized function with id ${invocation.functionId}`,
    );
  }
  return registered;
}

function realDirectory(root: string): string {
  try {
    return realpathSync(root);
  } catch (err) {
    throw new ConfigurationError(
      `the code root ${root} (MEMOCALL_CODE_ROOT, else the nearest package.json above the working directory) cannot be read: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

function isInside(root: string, file: string): boolean {
  const relative = path.relative(root, file);
  return relative !== '' && !relative.startsWith(`..${path.sep}`) && relative !== '..' && !path.isAbsolute(relative);
}
