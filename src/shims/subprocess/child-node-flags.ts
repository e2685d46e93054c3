import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigurationError } from '../../core/configuration-error.js';

const TYPESCRIPT_FILE = /\.(?:[cm]?ts|tsx)$/;

/**
 * The child's program (child-main, beside this module: `memocall run` without the other
 * commands), in the same form, source or compiled, as this module.
 */
export function remoteEntryFile(): { file: string; typescript: boolean } {
  const self = fileURLToPath(import.meta.url);
  const typescript = TYPESCRIPT_FILE.test(self);
  // The child must load memocall from the very files this process uses: a second copy would have
  // its own function registry and invocation context.
  return { file: fileURLToPath(new URL(`./child-main${path.extname(self)}`, import.meta.url)), typescript };
}

export function isTypeScriptFile(file: string | undefined): boolean {
  return file !== undefined && TYPESCRIPT_FILE.test(file);
}

/** True when this process was started with tsx (`tsx file.ts`, `node --import tsx ...`). */
export function runsUnderTsx(execArgv: readonly string[] = process.execArgv): boolean {
  return execArgv.some(
    (arg, i) =>
      /(?:^|[/\\@])tsx(?:$|[/\\])/.test(arg) &&
      i > 0 &&
      /^--(?:import|loader|experimental-loader|require)$|^-r$/.test(execArgv[i - 1] ?? ''),
  );
}

const loaderOf = new Map<string, string>();

/**
 * `['--import', <tsx's loader by absolute URL>]`: by absolute URL so that a child in any working
 * directory finds it. Looked up from the code root first (the user's own tsx), then from memocall.
 */
export function tsxImportFlags(codeRoot: string): string[] {
  let url = loaderOf.get(codeRoot);
  if (url === undefined) {
    for (const base of [path.join(codeRoot, 'package.json'), fileURLToPath(import.meta.url)]) {
      try {
        url = pathToFileURL(createRequire(base).resolve('tsx')).href;
        break;
      } catch {
        // not installed there
      }
    }
    if (url === undefined) {
      throw new ConfigurationError(
        `the function's code is TypeScript, but tsx cannot be found from ${codeRoot}: install tsx, or pass the loader yourself in subprocess({ execArgv })`,
      );
    }
    loaderOf.set(codeRoot, url);
  }
  return ['--import', url];
}
