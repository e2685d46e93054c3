import { MissingDependencyError } from './missing-dependency-error.js';

/**
 * The heavy SDKs are optional peer dependencies: a user installs only those of the stores and
 * shims they use. Every module that loads one goes through `importOptionalDependency`, so a
 * missing package is reported by name, with the command that installs it.
 *
 * The ranges are the `peerDependencies` of package.json (a test keeps the two equal); they are
 * written here so that no file is read to build the message.
 */
export const OPTIONAL_DEPENDENCIES = {
  '@aws-sdk/client-s3': '^3.1169.0',
  '@aws-sdk/lib-storage': '^3.1169.0',
  '@azure/identity': '^4.13.1',
  '@azure/storage-blob': '^12.32.0',
  '@kubernetes/client-node': '^1.4.0',
  bullmq: '^6.7.0',
  ioredis: '^6.0.0',
} as const;

export type OptionalDependency = keyof typeof OPTIONAL_DEPENDENCIES;

/**
 * Runs `load` (an `import()` of the package, or of a module of memocall that imports it) and
 * turns "package not found" for one of `packages` into a `MissingDependencyError` naming it.
 * `usedBy` says what needs it, e.g. 'the queue() shim'. Other failures pass through unchanged.
 */
export async function importOptionalDependency<T>(
  packages: OptionalDependency | readonly OptionalDependency[],
  usedBy: string,
  load: () => Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const missing = missingPackageOf(error, typeof packages === 'string' ? [packages] : packages);
    if (missing === undefined) throw error;
    throw new MissingDependencyError(missing, OPTIONAL_DEPENDENCIES[missing], usedBy, { cause: error });
  }
}

/**
 * Which of `packages` the error says is missing. Node reports a bare specifier it cannot resolve
 * as ERR_MODULE_NOT_FOUND "Cannot find package '<name>' imported from …" (a missing file inside
 * an installed package says "Cannot find module", which is not this case).
 */
function missingPackageOf(error: unknown, packages: readonly OptionalDependency[]): OptionalDependency | undefined {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== 'ERR_MODULE_NOT_FOUND' || typeof message !== 'string') return undefined;
  return packages.find((name) => message.includes(`package '${name}'`));
}
