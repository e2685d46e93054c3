import fs from 'node:fs';
import path from 'node:path';
import { formatWriterTag, ownWriterTag, parseWriterTag, type WriterTag } from './writer-identity.js';

/**
 * Writing a local file so that it appears whole or not at all: the bytes go to a hidden temp
 * sibling which is then renamed (or linked) into place. A sibling, because rename is only atomic
 * within one filesystem. Used by the file store for objects, by every store's `getFile` and by
 * the download cache's records.
 */

const TEMP_MARK = '.memocall-tmp-';
let tempCounter = 0;

/**
 * A fresh hidden name next to `target`, e.g. `dir/.result.memocall-tmp-<writer>-0`, where
 * `<writer>` names this process by host, boot, pid and start time (writer-identity.ts): unique
 * across hosts sharing a filesystem, and enough to tell later whether the writer is dead.
 */
export function tempSiblingPath(target: string): string {
  let base = path.basename(target);
  // The temp name adds ~55 bytes; keep it under NAME_MAX (255 bytes) even for long UTF-8 names.
  if (Buffer.byteLength(base) > 180) base = base.slice(0, 40);
  const tag = formatWriterTag(ownWriterTag());
  return path.join(path.dirname(target), `.${base}${TEMP_MARK}${tag}-${(tempCounter++).toString(36)}`);
}

/** True for names made by `tempSiblingPath`: listings skip them. */
export function isTempName(name: string): boolean {
  return name.charCodeAt(0) === 46 /* . */ && name.includes(TEMP_MARK);
}

/**
 * The writer a temp name records; undefined for names from memocall versions that recorded none
 * (pid and a random tag), which only their age can judge.
 */
export function writerOfTempName(name: string): WriterTag | undefined {
  if (!isTempName(name)) return undefined;
  const rest = name.slice(name.lastIndexOf(TEMP_MARK) + TEMP_MARK.length);
  return parseWriterTag(rest.slice(0, rest.lastIndexOf('-')));
}

/** Best-effort cleanup on failure paths: the original error is the one worth reporting. */
export function unlinkQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // already gone, or never created
  }
}

/** Writes `data` to `localPath` (creating parent directories): readers see the old file or all of the new one. */
export async function writeLocalFileAtomically(localPath: string, data: Uint8Array): Promise<void> {
  await fs.promises.mkdir(path.dirname(localPath), { recursive: true });
  const tmp = tempSiblingPath(localPath);
  try {
    await fs.promises.writeFile(tmp, data, { flag: 'wx' });
    await fs.promises.rename(tmp, localPath);
  } catch (err) {
    unlinkQuietly(tmp);
    throw err;
  }
}

/** The same, synchronously: for small records written where no await is possible. */
export function writeLocalFileAtomicallySync(localPath: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(localPath), { recursive: true });
  const tmp = tempSiblingPath(localPath);
  try {
    fs.writeFileSync(tmp, data, { flag: 'wx' });
    fs.renameSync(tmp, localPath);
  } catch (err) {
    unlinkQuietly(tmp);
    throw err;
  }
}

/**
 * Copies `from` to `to` the same way (reflink where the filesystem can). A missing `from` rejects
 * with its ENOENT and leaves nothing at `to`.
 */
export async function copyLocalFileAtomically(from: string, to: string): Promise<void> {
  await fs.promises.mkdir(path.dirname(to), { recursive: true });
  const tmp = tempSiblingPath(to);
  try {
    await fs.promises.copyFile(from, tmp, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE);
    await fs.promises.rename(tmp, to);
  } catch (err) {
    unlinkQuietly(tmp);
    throw err;
  }
}
