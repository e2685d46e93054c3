import path from 'node:path';
import { ConfigurationError } from '../core/configuration-error.js';
import { checkId } from '../protocol/memo-uri.js';
import { codeRootOf } from './code-root.js';
import { bindingNameAt, callerFrame, originalSourceFile, type SourceFrame } from './source-location.js';

/** Where a memoized function lives: enough for any process to find it again. */
export interface FunctionLocation {
  /** Source path relative to the code root, extension dropped: `examples/fibonacci`. */
  moduleId: string;
  /** The running file relative to the code root (the `.js` when compiled). */
  runtimeModule: string | undefined;
  /** The variable the memoized function is assigned to at the wrapping call, if any. */
  bindingName: string | undefined;
  /** Absolute directory `runtimeModule` is relative to (a child process gets it as MEMOCALL_CODE_ROOT). */
  codeRoot?: string;
}

const SOURCE_EXTENSION = /\.(?:[cm]?[jt]sx?)$/;

/**
 * The module wrapping a function, read from the call stack at wrap time. `entry` is the memocall
 * function the user called: the caller is the first frame below it outside memocall's files.
 */
export function locateCaller(entry?: (...args: never[]) => unknown): FunctionLocation {
  const frame = callerFrame(entry);
  if (!frame) return { moduleId: 'unknown-module', runtimeModule: undefined, bindingName: undefined };
  const source = originalSourceFile(frame.file);
  const codeRoot = codeRootOf(path.dirname(source));
  const toPosix = (p: string) => p.split(path.sep).join('/');
  const runtimeRoot = codeRootOf(path.dirname(frame.file));
  return {
    moduleId: toPosix(path.relative(codeRoot, source)).replace(SOURCE_EXTENSION, ''),
    runtimeModule: toPosix(path.relative(runtimeRoot, frame.file)),
    bindingName: bindingNameOf(frame),
    codeRoot: runtimeRoot,
  };
}

/**
 * The binding read at the position the stack trace shows (the source under tsx and source maps).
 * When that names none and is another file (say, sources not shipped), the running file's own
 * position decides, as it does for plain node on compiled files.
 */
function bindingNameOf(frame: SourceFrame): string | undefined {
  const shownName = bindingNameAt(frame.shown);
  if (shownName !== undefined || frame.shown.file === frame.file) return shownName;
  return bindingNameAt(frame);
}

/**
 * `<module id>--<export name>`: the function's identity in memo URIs. The export name is the
 * variable the wrapper is assigned to, else the function's own name. An explicit `id` wins.
 */
export function functionIdOf(location: FunctionLocation, fnName: string, explicitId?: string): string {
  if (explicitId !== undefined) {
    validateId(explicitId, 'id');
    return explicitId;
  }
  const name = location.bindingName ?? fnName;
  if (!name) {
    throw new ConfigurationError(
      `cannot name the anonymous function wrapped in ${location.moduleId}: assign it (export const train = useRunner(...)), name it (async function train(...) {...}) or pass { id }`,
    );
  }
  const id = `${location.moduleId}--${name}`;
  validateId(id, 'function id');
  return id;
}

/**
 * Ids become segments of every memo URI: keep them to the grammar of protocol/memo-uri.ts
 * (`/`-separated parts of letters, digits and `. _ + = , -`; `@` and `~` are the URI's own).
 */
export function validateId(id: string, what: string): void {
  checkId(id, what);
}
