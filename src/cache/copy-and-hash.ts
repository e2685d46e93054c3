import fs from 'node:fs';
import { LocalFileChangedError } from '../core/local-file-changed-error.js';
import { sha256OfFile, type FileDigest, type ProgressCallback } from '../core/sha256-file.js';

/**
 * Copies `from` to the new file `to` and hashes the source at the same time: the kernel copies
 * (copy_file_range, or a reflink where the filesystem can) while this process hashes, so the
 * whole takes about as long as hashing alone. The source must not change meanwhile (checked:
 * same inode, size, mtime and ctime before and after, else LocalFileChangedError), so the copy
 * holds exactly the hashed bytes. `to` must not exist; it is removed again if anything fails.
 */
export async function copyAndHash(from: string, to: string, onProgress?: ProgressCallback): Promise<FileDigest> {
  const identity = async (): Promise<string> => {
    const st = await fs.promises.stat(from, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  };
  const before = await identity();
  let created = false;
  const [hashed, copied] = await Promise.allSettled([
    sha256OfFile(from, onProgress),
    fs.promises.copyFile(from, to, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE).then(() => {
      created = true;
    }),
  ]);
  try {
    if (copied.status === 'rejected') throw copied.reason;
    if (hashed.status === 'rejected') throw hashed.reason;
    if ((await identity()) !== before) throw new LocalFileChangedError(from, 'while being copied');
    const size = (await fs.promises.stat(to)).size;
    if (size !== hashed.value.size)
      throw new LocalFileChangedError(from, `while being copied (${hashed.value.size} bytes hashed, ${size} copied)`);
    return hashed.value;
  } catch (err) {
    // Remove only a file this call created (EEXIST means `to` is someone else's).
    if (created) await fs.promises.unlink(to).catch(() => undefined);
    throw err;
  }
}
