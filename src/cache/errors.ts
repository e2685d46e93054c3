import { MemocallError } from '../core/memocall-error.js';

/** Downloaded (or added) bytes do not have the SHA-256 or size they were expected to have. */
export class CacheIntegrityError extends MemocallError {
  readonly uri: string;
  readonly expected: string;
  readonly actual: string;

  constructor(uri: string, expected: string, actual: string) {
    // A local file's digest is not ours to print: a stored pointer may name any file on this
    // machine (file:///etc/shadow), and its hash would tell what it holds.
    const shown = /^file:/i.test(uri) && actual.startsWith('sha256 ') ? 'other content' : actual;
    super(
      'MEMOCALL_CACHE_INTEGRITY',
      `${uri}: content does not match what was expected (expected ${expected}, got ${shown})`,
    );
    this.uri = uri;
    this.expected = expected;
    this.actual = shown;
  }
}
