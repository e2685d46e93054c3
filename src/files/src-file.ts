import { existingLocalFile, FileValue, INTERNAL, type FileState } from './file-value.js';
import { readPointerFile } from './pointer-file.js';

/**
 * A file a function reads. Made with `localSrc(path)` (a local file: read in place when the call
 * runs here, uploaded content-addressed only when it runs elsewhere), `src(uri)` (a remote
 * object, downloaded through the cache on first access) or `loadSrcFile(pointerPath)` (the
 * pointer a DestFile left behind). `await file.path()` gives a local path to read.
 * As an argument it is keyed by content (SHA-256 and size), plus its URI if it has one.
 */
export class SrcFile extends FileValue {
  /** @internal use localSrc, src, loadSrcFile or SrcFileContext */
  constructor(token: typeof INTERNAL, state: FileState) {
    super(token, state);
  }

  protected describe(): string {
    const s = this.state;
    return s.kind === 'local'
      ? `SrcFile(${s.localPath})`
      : s.kind === 'remote'
        ? `SrcFile(${s.uri})`
        : `SrcFile(sha256 ${s.digest.sha256})`;
  }
}

/** A local file as a SrcFile. It must exist now; its content hash is taken when a memoized call needs it. */
export function localSrc(path: string): SrcFile {
  return new SrcFile(INTERNAL, {
    kind: 'local',
    localPath: existingLocalFile(path),
    uri: undefined,
    digest: undefined,
  });
}

/**
 * A remote object (`s3://…`, `adls://…`, `file:///…`, any registered store) as a SrcFile.
 * Nothing is fetched until its content is needed: `path()`, or a memoized call's key.
 */
export function src(uri: string, known?: { sha256: string; size: number }): SrcFile {
  return new SrcFile(INTERNAL, {
    kind: 'remote',
    uri,
    digest: known ? { sha256: known.sha256.toLowerCase(), size: known.size } : undefined,
  });
}

/** The SrcFile a pointer file (left by a DestFile on the caller's side) points to. */
export async function loadSrcFile(pointerPath: string): Promise<SrcFile> {
  const pointer = readPointerFile(pointerPath);
  return src(pointer.uri, { sha256: pointer.sha256, size: pointer.size });
}

/** @internal a SrcFile known by content only (decoded from a local-file argument). */
export function contentSrc(sha256: string, size: number): SrcFile {
  return new SrcFile(INTERNAL, { kind: 'content', digest: { sha256, size } });
}
