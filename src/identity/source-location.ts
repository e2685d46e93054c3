import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A position in a file. */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

/**
 * A frame of the call stack: the file that runs (compiled `.js`, or `.ts` under tsx) at its
 * position there, and the position the stack trace shows, which is the source-mapped one under
 * tsx or `--enable-source-maps` (else the same as the running one).
 */
export interface SourceFrame extends SourcePosition {
  shown: SourcePosition;
}

const realPaths = new Map<string, string>();

/**
 * memocall's own code: `src/` and `dist/src/` of its package root, by real path. The package
 * may run from either (tsx on the sources, node on the compiled files), reached through a
 * symlink (`npm link`, `npm install <dir>`, workspaces) or copied (a tarball).
 */
const ownDirs: readonly string[] = (() => {
  const srcDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const compiled = path.basename(path.dirname(srcDir)) === 'dist';
  const packageRoot = compiled ? path.dirname(path.dirname(srcDir)) : path.dirname(srcDir);
  const dirs = [path.join(packageRoot, 'src'), path.join(packageRoot, 'dist', 'src')];
  return [...new Set([...dirs, ...dirs.map(realPathOf)])].map((dir) => dir + path.sep);
})();

function realPathOf(file: string): string {
  let real = realPaths.get(file);
  if (real === undefined) {
    try {
      real = realpathSync(file);
    } catch {
      real = file; // not on disk (e.g. a source-mapped path of a package shipped without sources)
    }
    realPaths.set(file, real);
  }
  return real;
}

/** True for a file of memocall itself, however it was reached. */
export function isOwnFile(file: string): boolean {
  const inOwnDir = (f: string) => ownDirs.some((dir) => f.startsWith(dir));
  return inOwnDir(file) || inOwnDir(realPathOf(file));
}

// Frames look like `at fn (file:///a/b.ts:3:5)`, `at file:///a/b.js:3:5` or `at /a/b.js:3:5`.
const framePattern = /((?:file:\/\/)?\/[^()]*?):(\d+):(\d+)\)?\s*$/;

function pathOf(fileOrUrl: string): string {
  return fileOrUrl.startsWith('file://') ? fileURLToPath(fileOrUrl) : fileOrUrl;
}

/**
 * The first frame on the current call stack outside memocall itself: where the user wrapped the
 * function. `entry` is the memocall function the user called (`useRunner`): frames from it up
 * are dropped by V8 itself; frames of memocall's files below it (`pure` calling `useRunner`)
 * are skipped by path. A frame is memocall's by the file that *runs*, never by its mapped path:
 * under source maps memocall's compiled files show as `…/memocall/src/*.ts`.
 */
export function callerFrame(entry?: (...args: never[]) => unknown): SourceFrame | undefined {
  const capture = (from: (...args: never[]) => unknown) => {
    const limit = Error.stackTraceLimit;
    const prepare = Error.prepareStackTrace;
    Error.stackTraceLimit = 30;
    try {
      // V8 hands a prepareStackTrace of our own the raw call sites: the files that run.
      Error.prepareStackTrace = (_error, sites) => sites;
      const raw: { stack?: NodeJS.CallSite[] } = {};
      Error.captureStackTrace(raw, from);
      const sites = raw.stack ?? [];
      Error.prepareStackTrace = prepare;
      // The formatted trace: source-mapped by whoever formats stacks (Node, tsx, vitest).
      const shown: { stack?: string } = {};
      Error.captureStackTrace(shown, from);
      const text = typeof shown.stack === 'string' ? shown.stack : '';
      const shownLines = text.split('\n').filter((line) => /^\s+at /.test(line));
      return { sites, shownLines: shownLines.length === sites.length ? shownLines : [] };
    } finally {
      Error.prepareStackTrace = prepare;
      Error.stackTraceLimit = limit;
    }
  };
  let { sites, shownLines } = capture(entry ?? callerFrame);
  if (sites.length === 0 && entry) ({ sites, shownLines } = capture(callerFrame)); // entry not on the stack
  for (const [i, site] of sites.entries()) {
    const name = site.getFileName();
    const line = site.getLineNumber();
    const column = site.getColumnNumber();
    if (!name || line === null || column === null) continue;
    if (!name.startsWith('file://') && !path.isAbsolute(name)) continue; // node:internal, eval, native
    const file = pathOf(name);
    if (isOwnFile(file)) continue;
    const m = framePattern.exec(shownLines[i] ?? '');
    const shown = m?.[1] ? { file: pathOf(m[1]), line: Number(m[2]), column: Number(m[3]) } : { file, line, column };
    return { file, line, column, shown };
  }
  return undefined;
}

const originalOf = new Map<string, string>();

/**
 * For compiled JavaScript with a source map beside it, the original source file; otherwise the
 * file itself. This is what makes a function's id the same when run from `.ts` (tsx) and from
 * compiled `.js`.
 */
export function originalSourceFile(file: string): string {
  const cached = originalOf.get(file);
  if (cached !== undefined) return cached;
  let original = file;
  if (/\.[cm]?js$/.test(file)) {
    try {
      const map = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources?: string[]; sourceRoot?: string };
      const first = map.sources?.length === 1 ? map.sources[0] : undefined;
      if (first) original = path.resolve(path.dirname(file), map.sourceRoot ?? '', first.replace(/^file:\/\//, ''));
    } catch {
      // No readable source map: the compiled file is the source.
    }
  }
  originalOf.set(file, original);
  return original;
}

const linesOf = new Map<string, string[] | null>();
// `export const fib = ` / `let train: Memoized<...> = ` right before the wrapping call.
const bindingBefore = /(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::[^;]*?)?=\s*(?:[A-Za-z_$][\w$]*\.)?$/;

/**
 * The name of the variable the call at `frame` is assigned to (`export const fib = useRunner(`),
 * read from the source. This is the export name that identifies the function, and it lets an
 * arrow function be named without an explicit id.
 */
export function bindingNameAt(frame: SourcePosition): string | undefined {
  let lines = linesOf.get(frame.file);
  if (lines === undefined) {
    try {
      lines = readFileSync(frame.file, 'utf8').split('\n');
    } catch {
      lines = null;
    }
    linesOf.set(frame.file, lines);
  }
  if (!lines) return undefined;
  const current = lines[frame.line - 1];
  if (current === undefined) return undefined;
  // The statement may start a line or two above the call (`export const x =\n  useRunner(`).
  const before = [lines[frame.line - 3] ?? '', lines[frame.line - 2] ?? '', current.slice(0, frame.column - 1)].join(
    '\n',
  );
  return bindingBefore.exec(before)?.[1];
}
