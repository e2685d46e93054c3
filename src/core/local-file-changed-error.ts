import { MemocallError } from './memocall-error.js';

/** A local file changed while memocall was hashing, copying or uploading it. */
export class LocalFileChangedError extends MemocallError {
  readonly path: string;

  constructor(path: string, when: string) {
    super(
      'MEMOCALL_LOCAL_FILE_CHANGED',
      `${path} changed ${when}; write files completely before handing them to memocall`,
    );
    this.path = path;
  }
}
