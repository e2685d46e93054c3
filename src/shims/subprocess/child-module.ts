import { pathToFileURL } from 'node:url';

/**
 * The module a child imports before it runs the invocation: the compiled twin of a TypeScript
 * function module (typescript-build.ts). Importing it registers the function under its usual id,
 * so the remote entry finds it without looking for (and without needing a loader for) the source.
 */
export const CHILD_MODULE_ENV = 'MEMOCALL_CHILD_MODULE';

export async function importChildModule(): Promise<void> {
  const file = process.env[CHILD_MODULE_ENV];
  if (file) await import(pathToFileURL(file).href);
}
