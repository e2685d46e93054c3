import type { ShipContext } from '../execute/value-hooks.js';
import { fileValueCounters, FileValue } from './file-value.js';
import { Source } from './source.js';
import { collectInstances } from './value-walk.js';

const isFileValue = (v: object): v is FileValue => v instanceof FileValue;

/**
 * Before the key is computed: every file value among the arguments gets its content hash
 * (local files: hashed, or one stat when hashed before and unchanged; remote files without a
 * known hash: fetched through the cache). Nothing is uploaded here: a memo hit never uploads.
 */
export function prepareFileArguments(args: readonly unknown[]): Promise<void> | undefined {
  if (fileValueCounters.created === 0) return undefined; // no file value exists: nothing to look for
  let pending: Promise<void>[] | undefined;
  for (const file of collectInstances(args, isFileValue)) {
    const work = file.preparation();
    if (work) (pending ??= []).push(work);
  }
  return pending && Promise.all(pending).then(() => undefined);
}

/**
 * On a miss, before the invocation is written: when the function runs in another process, local
 * files travel to the blob root's content-addressed store (skipped when already there), and
 * local Sources with a designated URI to that URI. In process, nothing moves: the function reads
 * local files in place.
 */
export function shipFileArguments(args: readonly unknown[], ctx: ShipContext): Promise<void> | undefined {
  if (ctx.inProcess || fileValueCounters.created === 0) return undefined;
  const uploads: Promise<void>[] = [];
  const seen = new Set<string>();
  for (const file of collectInstances(args, isFileValue)) {
    const local = file.state;
    if (local.kind !== 'local' || !local.digest) continue;
    if (file instanceof Source && local.uri !== undefined) {
      uploads.push(file.uploadToDesignatedUri());
    } else if (!seen.has(local.digest.sha256)) {
      seen.add(local.digest.sha256); // the same content twice is uploaded once
      uploads.push(file.uploadToCas(ctx.memo.blobRoot));
    }
  }
  return uploads.length ? Promise.all(uploads).then(() => undefined) : undefined;
}
