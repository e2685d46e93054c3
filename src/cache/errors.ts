import { MemocallError } from '../core/memocall-error.js';

/** Downloaded (or added) bytes do not have the SHA-256 or size they were expected to have. */
export class CacheIntegrityError extends MemocallError {
  readonly uri: string;
  readonly expected: string;
  readonly actual: string;

  constructor(uri: string, expected: string, actual: string) {
    super(
      'MEMOCALL_CACHE_INTEGRITY',
      `${uri}: content does not match what was expected (expected ${expected}, got ${actual})`,
    );
    this.uri = uri;
    this.expected = expected;
    this.actual = actual;
  }
}
