import path from 'node:path';
import { currentInvocation } from '../execute/invocation-context.js';
import type { MemoUriParts } from '../protocol/memo-uri.js';
import { InvalidOutputNameError, NotInInvocationError } from './errors.js';

/**
 * Where an invocation's outputs go: `<blobRoot>/<pipelineId>/<functionId>/<argsKey>/<runId>/`.
 * Outside `memocall-v1/` (they are data, not memo records) but under the same blob root, and
 * per run: an invocation may execute twice (a retried pod, a lost race), and the second run
 * must never overwrite files the first run's result already points to.
 */
export function outputNamespace(
  memo: Pick<MemoUriParts, 'blobRoot' | 'pipelineId' | 'functionId' | 'argsKey'>,
  runId: string,
): string {
  const root = memo.blobRoot.endsWith('/') ? memo.blobRoot.slice(0, -1) : memo.blobRoot;
  return `${root}/${memo.pipelineId}/${memo.functionId}/${memo.argsKey}/${runId}`;
}

/**
 * Inside a running invocation: the URI of its output namespace, or of `name` inside it. For
 * outputs a function writes to the store itself; returned Sources are named under it too.
 */
export function invocationOutputFqn(name?: string): string {
  const ctx = currentInvocation();
  if (!ctx) throw new NotInInvocationError('invocationOutputFqn()');
  const base = outputNamespace(ctx.memo, ctx.runId);
  const rel = name === undefined ? '' : cleanRelative(name);
  return rel === '' ? base : `${base}/${rel}`;
}

/**
 * The name of a returned local file inside the output namespace: its path relative to the
 * working directory with a leading `.out/` removed (the conventional folder for outputs), or its
 * base name when it lies outside the working directory.
 */
export function outputRelativeName(localPath: string, cwd = process.cwd()): string {
  const rel = path.relative(cwd, path.resolve(cwd, localPath));
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return path.basename(localPath);
  const posix = rel.split(path.sep).join('/');
  return posix.startsWith('.out/') ? posix.slice('.out/'.length) : posix;
}

/**
 * `name` as a path inside the namespace: backslashes read as `/`, leading `/`, empty and `.`
 * segments dropped, `a/../b` folded to `b`. A name that would leave the namespace (`../x`, or a
 * `..` past its start), or holds NUL or control characters, is refused: outputs of one run must
 * never land on another run's files or on memo records.
 */
function cleanRelative(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (/[\x00-\x1f\x7f]/.test(name)) throw new InvalidOutputNameError(name, 'it contains control characters');
  const kept: string[] = [];
  for (const segment of name.replace(/\\/g, '/').split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (kept.length === 0) throw new InvalidOutputNameError(name, "it leaves the invocation's output namespace");
      kept.pop();
    } else kept.push(segment);
  }
  return kept.join('/');
}
