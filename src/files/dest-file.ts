import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { currentInvocation } from '../execute/invocation-context.js';
import { InvalidRelativePathError } from './errors.js';
import { fileValueCounters, INTERNAL, type Digest } from './file-value.js';
import { noteDestTouched } from './dest-tracking.js';

/**
 * A file a function writes. Write it at `localPath`; return the DestFile (in the result value)
 * and it is uploaded to `uri` before the result becomes visible. On the caller's side a small
 * JSON pointer (uri, sha256, size) is then written at the DestFile's local path, whatever the
 * shim (so the caller sees the same thing whether the function ran here or elsewhere); turn it
 * into a SrcFile with `SrcFileContext.src(...)` or `loadSrcFile(pointerPath)`.
 *
 * A DestFile that was written during a call but not returned is reported (a warning with code
 * MEMOCALL_DEST_NOT_RETURNED, and in the run's metadata): it was not uploaded.
 *
 * As an argument, a DestFile is keyed by its URI and the local path it was given (relative paths
 * stay relative: the caller's pointer goes there).
 */
export class DestFile {
  /** Where the file is uploaded when returned. */
  readonly uri: string;
  /** The local path as given (part of the key), also when it came from a stored record. */
  readonly #declaredPath: string | undefined;
  /**
   * The local path this process may write: given by code of this process, never read from
   * stored data (a decoded DestFile uses it only if this process made the same one itself).
   */
  readonly #pointerPath: string | undefined;
  #tempPath: string | undefined;
  #digest: Digest | undefined;

  /** @internal use dest() or DestFileContext */
  constructor(
    token: typeof INTERNAL,
    uri: string,
    localPath: string | undefined,
    digest?: Digest,
    origin: 'made-here' | 'decoded' = 'made-here',
  ) {
    if (token !== INTERNAL) throw new TypeError('DestFiles are made with dest() or DestFileContext');
    this.uri = uri;
    this.#declaredPath = localPath;
    if (localPath !== undefined && origin === 'made-here') rememberMadeHere(uri, localPath);
    this.#pointerPath = localPath !== undefined && isMadeHere(uri, localPath) ? localPath : undefined;
    this.#digest = digest;
    fileValueCounters.created++;
  }

  /**
   * Where to write the file (parent directories are created). Relative paths are relative to the
   * working directory. Without a local path given, a fresh temporary file name; so too in a
   * process that received the DestFile from a stored invocation (a remote worker): it writes
   * under its own temporary directory, never at a path named by stored data.
   */
  get localPath(): string {
    const ctx = currentInvocation();
    if (ctx) noteDestTouched(ctx.runId, this);
    const p =
      this.#pointerPath ??
      (this.#tempPath ??= path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'memocall-dest-')), safeBaseName(this.uri)));
    fs.mkdirSync(path.dirname(path.resolve(p)), { recursive: true });
    return p;
  }

  /** SHA-256 (hex) of the uploaded content: known once the DestFile was returned and uploaded. */
  get sha256(): string | undefined {
    return this.#digest?.sha256;
  }

  get size(): number | undefined {
    return this.#digest?.size;
  }

  /** @internal the local path given by code of this process (where the caller's pointer goes). */
  get pointerPath(): string | undefined {
    return this.#pointerPath;
  }

  /** @internal the local path as given or as stored, for the encoding only: never a place to write. */
  get declaredPath(): string | undefined {
    return this.#declaredPath;
  }

  /** @internal the local path without side effects (no tracking, no directory creation). */
  get writtenPath(): string | undefined {
    return this.#pointerPath ?? this.#tempPath;
  }

  /** @internal recorded after upload. */
  uploaded(digest: Digest): void {
    this.#digest = digest;
  }

  /** @internal */
  get digest(): Digest | undefined {
    return this.#digest;
  }

  toString(): string {
    return `DestFile(${this.uri}${this.#declaredPath ? ` ← ${this.#declaredPath}` : ''})`;
  }
}

/** The last segment of a URI as a file name, or `file` when it is not one (`..`, empty). */
function safeBaseName(uri: string): string {
  const base = uri.slice(uri.lastIndexOf('/') + 1).replace(/[\\\0]/g, '_');
  return base === '' || base === '.' || base === '..' ? 'file' : base;
}

/**
 * (URI, local path) pairs of DestFiles that code of this process made. A DestFile decoded from
 * stored data (an invocation record, a result) may write, and point, at its local path only when
 * this process made the same pair itself: then the path is one its own code chose (samethread
 * runs the function in place this way), never one chosen by whoever wrote the record.
 */
const madeHere = new Set<string>();
const MADE_HERE_MAX = 100_000;

function rememberMadeHere(uri: string, localPath: string): void {
  const key = `${uri}\n${localPath}`;
  if (madeHere.has(key)) return;
  if (madeHere.size >= MADE_HERE_MAX) madeHere.delete(madeHere.values().next().value!);
  madeHere.add(key);
}

function isMadeHere(uri: string, localPath: string): boolean {
  return madeHere.has(`${uri}\n${localPath}`);
}

/** A DestFile uploaded to `uri`; written locally at `localPath` (default: a temporary file). */
export function dest(uri: string, localPath?: string): DestFile {
  return new DestFile(INTERNAL, uri, localPath);
}

/**
 * Pairs a remote root with a local directory: `dest('a/b.csv')` is uploaded to `<root>/a/b.csv`
 * and written locally at `<localDir>/a/b.csv` (where the caller's pointer also goes).
 */
export class DestFileContext {
  readonly root: string;
  readonly localDir: string;

  constructor(root: string, localDir: string) {
    this.root = root.endsWith('/') ? root.slice(0, -1) : root;
    this.localDir = localDir;
  }

  dest(relPath: string): DestFile {
    const rel = checkRelative(relPath);
    return new DestFile(INTERNAL, `${this.root}/${rel}`, path.join(this.localDir, ...rel.split('/')));
  }
}

/** `a/b.csv` (forward slashes; backslashes accepted on input) or InvalidRelativePathError. */
export function checkRelative(relPath: string): string {
  const rel = relPath.replace(/\\/g, '/');
  const parts = rel.split('/');
  if (rel === '' || rel.startsWith('/') || /^[A-Za-z]:/.test(rel) || parts.some((p) => p === '..' || p === ''))
    throw new InvalidRelativePathError(relPath);
  return parts.filter((p) => p !== '.').join('/');
}
