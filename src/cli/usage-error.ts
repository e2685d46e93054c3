import { MemocallError } from '../core/memocall-error.js';

/** A command line memocall cannot understand: reported with the usage text, exit 2. */
export class UsageError extends MemocallError {
  constructor(message: string) {
    super('MEMOCALL_USAGE', message);
  }
}
