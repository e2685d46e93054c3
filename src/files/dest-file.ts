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
  /** The local path given by the caller (where its pointer goes), if any. */
  readonly #pointerPath: string | undefined;
  #tempPath: string | undefined;
  #digest: Digest | undefined;

  /** @internal use dest() or DestFileContext */
  constructor(token: typeof INTERNAL, uri: string, pointerPath: string | undefined, digest?: Digest) {
    if (token !== INTERNAL) throw new TypeError('DestFiles are made with dest() or DestFileContext');
    this.uri = uri;
    this.#pointerPath = pointerPath;
    this.#digest = digest;
    fileValueCounters.created++;
  }

  /**
   * Where to write the file (parent directories are created). Relative paths are relative to the
   * working directory. Without a local path given, a fresh temporary file name.
   */
  get localPath(): string {
    const ctx = currentInvocation();
    if (ctx) noteDestTouched(ctx.runId, this);
    const p =
      this.#pointerPath ??
      (this.#tempPath ??= path.join(
        fs.mkdtempSync(path.join(os.tmpdir(), 'memocall-dest-')),
        path.basename(this.uri) || 'file',
      ));
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

  /** @internal the caller-given local path, for the pointer. */
  get pointerPath(): string | undefined {
    return this.#pointerPath;
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
    return `DestFile(${this.uri}${this.#pointerPath ? ` ← ${this.#pointerPath}` : ''})`;
  }
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
