import fs from 'node:fs';
import { DestFile, checkRelative } from './dest-file.js';
import { PointerFileError } from './errors.js';
import { readPointerFile, readPointerFileIfAny } from './pointer-file.js';
import { src, type SrcFile } from './src-file.js';

/**
 * Turns what a previous step produced into SrcFiles for the next one:
 * - a returned DestFile → the SrcFile of its uploaded content;
 * - the path of a pointer file (what a DestFile leaves on the caller's side) → its SrcFile;
 * - a relative path that is not a local file → the object `<root>/<path>`.
 */
export class SrcFileContext {
  readonly root: string;

  constructor(root: string) {
    this.root = root.endsWith('/') ? root.slice(0, -1) : root;
  }

  src(destOrPointerOrPath: DestFile | string): SrcFile {
    if (destOrPointerOrPath instanceof DestFile) return fromDest(destOrPointerOrPath);
    const p = destOrPointerOrPath;
    if (fs.existsSync(p)) return pointerSrc(p);
    return src(`${this.root}/${checkRelative(p)}`);
  }
}

function fromDest(file: DestFile): SrcFile {
  const digest = file.digest;
  if (digest) return src(file.uri, digest);
  // The caller's own DestFile object (passed as an argument) was never updated, but the returned
  // one left a pointer at its local path.
  const at = file.pointerPath;
  const pointer = at !== undefined && fs.existsSync(at) ? readPointerFileIfAny(at) : undefined;
  if (pointer && pointer.uri === file.uri) return src(pointer.uri, pointer);
  throw new PointerFileError(
    at ?? file.uri,
    `${file} has not been returned by a memoized call yet: nothing was uploaded`,
  );
}

function pointerSrc(file: string): SrcFile {
  const pointer = readPointerFile(file);
  return src(pointer.uri, pointer);
}
