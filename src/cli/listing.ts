import fs from 'node:fs';
import path from 'node:path';
import { isTempName } from '../blobstore/local/atomic-local-file.js';
import { isLockName } from '../blobstore/local/file-object-lock.js';
import { directoryPathOfFileUri, fileUriSegment } from '../blobstore/local/file-uri.js';
import { lookupBlobStore, parseBlobUri } from '../blobstore/registry.js';

/**
 * Every object URI under `prefix`, in lexicographic order. For `file://` the CLI walks the tree
 * itself, the way the file store lists it, so that a directory it may not read (`ls file:///` as
 * a user) is reported through `onSkipped` and the rest is still listed; the store's own `list`
 * stops at the first such directory, as a library call should.
 */
export async function* listForPeople(
  prefix: string,
  onSkipped: (dir: string, err: Error) => void,
): AsyncIterable<string> {
  if (parseBlobUri(prefix).scheme !== 'file') {
    yield* lookupBlobStore(prefix).list(prefix);
    return;
  }
  const dirUri = prefix.slice(0, prefix.lastIndexOf('/') + 1);
  yield* walk(directoryPathOfFileUri(dirUri), dirUri, prefix, onSkipped);
}

async function* walk(
  dirPath: string,
  dirUri: string,
  prefix: string,
  onSkipped: (dir: string, err: Error) => void,
): AsyncGenerator<string> {
  let dirents: fs.Dirent[];
  try {
    dirents = await fs.promises.readdir(dirPath, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    onSkipped(dirPath, err as Error);
    return;
  }
  const entries: { key: string; name: string; isDirectory: boolean }[] = [];
  for (const d of dirents) {
    if (isTempName(d.name) || isLockName(d.name)) continue;
    let isDirectory = d.isDirectory();
    let isFile = d.isFile();
    if (d.isSymbolicLink()) {
      // As the file store: a link to a file is an object; links to directories are not followed.
      const st = await fs.promises.stat(path.join(dirPath, d.name)).catch(() => undefined);
      isFile = st?.isFile() ?? false;
      isDirectory = false;
    }
    if (!isFile && !isDirectory) continue;
    const key = dirUri + fileUriSegment(d.name) + (isDirectory ? '/' : '');
    if (isDirectory ? !(key.startsWith(prefix) || prefix.startsWith(key)) : !key.startsWith(prefix)) continue;
    entries.push({ key, name: d.name, isDirectory });
  }
  entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const e of entries) {
    if (e.isDirectory) yield* walk(path.join(dirPath, e.name), e.key, prefix, onSkipped);
    else yield e.key;
  }
}

/** The files memocall keeps under a memo URI, by kind. */
export type MemoFileKind = 'invocation' | 'result' | 'error' | 'lease' | 'meta' | 'lost-race';

const MEMO_FILE = /^(.*)\/(?:(invocation|result|error|lease)|(meta|lost-race)\/[^/]+\.json)$/s;

/** `<memoUri>/result` → the memo URI and `result`; anything else → undefined. */
export function memoFileOf(uri: string): { memoUri: string; kind: MemoFileKind } | undefined {
  const m = MEMO_FILE.exec(uri);
  if (!m) return undefined;
  return { memoUri: m[1]!, kind: (m[2] ?? m[3]) as MemoFileKind };
}

/**
 * Groups a lexicographic listing by memo URI, yielding each memo as soon as its files are all
 * seen (a memo's files share the prefix `<memoUri>/`, so they are contiguous in the listing).
 */
export async function* memosOf(
  uris: AsyncIterable<string>,
): AsyncGenerator<{ memoUri: string; files: Map<MemoFileKind, string[]> }> {
  const pending = new Map<string, Map<MemoFileKind, string[]>>();
  for await (const uri of uris) {
    for (const [memoUri, files] of pending) {
      if (uri.startsWith(`${memoUri}/`)) continue;
      pending.delete(memoUri);
      yield { memoUri, files };
    }
    const file = memoFileOf(uri);
    if (!file) continue;
    const files = pending.get(file.memoUri) ?? new Map<MemoFileKind, string[]>();
    files.set(file.kind, [...(files.get(file.kind) ?? []), uri]);
    pending.set(file.memoUri, files);
  }
  for (const [memoUri, files] of pending) yield { memoUri, files };
}
