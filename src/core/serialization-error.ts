import { MemocallError } from './memocall-error.js';

/**
 * A value cannot be encoded canonically (a function, a symbol, a Promise, a cycle, a class
 * instance with no registered codec...). Thrown before anything is written.
 * `path` names the offending value, e.g. `args[1].model.fit`.
 */
export class SerializationError extends MemocallError {
  readonly path: string;

  constructor(path: string, problem: string) {
    super('MEMOCALL_SERIALIZATION', `${path} ${problem}`);
    this.path = path;
  }
}
