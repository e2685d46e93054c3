import { MemocallError } from './memocall-error.js';

/** Bad configuration or a misuse of the API that can be reported before any work is done. */
export class ConfigurationError extends MemocallError {
  constructor(message: string) {
    super('MEMOCALL_CONFIGURATION', message);
  }
}
