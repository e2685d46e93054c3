import path from 'node:path';
import { stillHashesTo } from '../cache/local-file-digest.js';

/**
 * Local files of this process by content, registered when a local file value is hashed. A file
 * value decoded in the same process (the samethread shim: arguments go through the encoding
 * too) finds its bytes here and reads them in place: no upload, no copy. An entry is used only
 * while the file is unchanged since it was hashed (one stat).
 */
const byContent = new Map<string, string>();

export function registerLocalContent(sha256: string, localPath: string): void {
  byContent.set(sha256, path.resolve(localPath));
}

/** A local, unchanged file with this content, if this process knows one. */
export function localPathWithContent(sha256: string): string | undefined {
  const candidate = byContent.get(sha256);
  if (candidate === undefined) return undefined;
  if (stillHashesTo(candidate, sha256)) return candidate;
  byContent.delete(sha256);
  return undefined;
}
