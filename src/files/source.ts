import { defaultDownloadCache } from '../cache/default-cache.js';
import { existingLocalFile, FileValue, INTERNAL, type FileState } from './file-value.js';
import { registerLocalContent } from './local-content.js';

/**
 * The newer, simpler file value: `await fromFile(path)` (a local file, hashed at once) or
 * `fromUri(uri)`. `await source.path()` gives a local path. Returned from a memoized function, a
 * local Source is uploaded under the invocation's output namespace
 * (`<blobRoot>/<pipelineId>/<functionId>/<argsKey>/<runId>/<path relative to cwd, .out/ stripped>`)
 * or to the `uri` given to fromFile. Identity as for SrcFile: content, plus the URI if any.
 */
export class Source extends FileValue {
  /** @internal use fromFile or fromUri */
  constructor(token: typeof INTERNAL, state: FileState) {
    super(token, state);
  }

  protected describe(): string {
    const s = this.state;
    return s.kind === 'local'
      ? `Source(${s.localPath})`
      : s.kind === 'remote'
        ? `Source(${s.uri})`
        : `Source(sha256 ${s.digest.sha256})`;
  }
}

export interface FromFileOptions {
  /**
   * Where the file lives remotely. Returned from a memoized function (or passed to one that runs
   * elsewhere), it is uploaded there. Part of the Source's identity. Default: none (returned
   * Sources are named under the invocation's output namespace).
   */
  uri?: string;
}

/** A local file as a Source, hashed now (a file hashed before and unchanged since costs one stat). */
export async function fromFile(path: string, options: FromFileOptions = {}): Promise<Source> {
  const localPath = existingLocalFile(path);
  const digest = await defaultDownloadCache().digestOfLocalFile(localPath);
  registerLocalContent(digest.sha256, localPath);
  return new Source(INTERNAL, { kind: 'local', localPath, uri: options.uri, digest });
}

/** A remote object as a Source; nothing is fetched until its content is needed. */
export function fromUri(uri: string, known?: { sha256: string; size: number }): Source {
  return new Source(INTERNAL, {
    kind: 'remote',
    uri,
    digest: known ? { sha256: known.sha256.toLowerCase(), size: known.size } : undefined,
  });
}

/** @internal a Source known by content only (decoded from a local-file argument). */
export function contentSource(sha256: string, size: number): Source {
  return new Source(INTERNAL, { kind: 'content', digest: { sha256, size } });
}
