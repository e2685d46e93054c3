import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A position on the call stack. */
export interface SourceFrame {
  file: string;
  line: number;
  column: number;
}

const memocallDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Frames look like `at fn (file:///a/b.ts:3:5)`, `at file:///a/b.js:3:5` or `at /a/b.js:3:5`.
const framePattern = /((?:file:\/\/)?\/[^()]*?):(\d+):(\d+)\)?\s*$/;

/**
 * The first frame on the current call stack outside memocall itself: where the user wrapped
 * the function.
 */
export function callerFrame(): SourceFrame | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 30;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  for (const line of stack.split('\n').slice(1)) {
    const m = framePattern.exec(line);
    if (!m?.[1]) continue;
    const file = m[1].startsWith('file://') ? fileURLToPath(m[1]) : m[1];
    if (file.startsWith(memocallDir + path.sep)) continue;
    return { file, line: Number(m[2]), column: Number(m[3]) };
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
export function bindingNameAt(frame: SourceFrame): string | undefined {
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
