import { MemocallError } from '../core/memocall-error.js';

/** `get`/`getFile` of a URI that holds no object. */
export class BlobNotFoundError extends MemocallError {
  readonly uri: string;

  constructor(uri: string, options?: { cause?: unknown }) {
    super('MEMOCALL_BLOB_NOT_FOUND', `no object at ${uri}`, options);
    this.uri = uri;
  }
}

/** A conditional write (`ifNoneMatch: '*'` or `ifMatch: etag`) found the object in another state. */
export class PreconditionFailedError extends MemocallError {
  readonly uri: string;
  readonly condition: { ifNoneMatch?: '*'; ifMatch?: string };

  constructor(uri: string, condition: { ifNoneMatch?: '*'; ifMatch?: string }, options?: { cause?: unknown }) {
    const what =
      condition.ifNoneMatch === '*' ? 'an object already exists' : `its etag is no longer ${condition.ifMatch}`;
    super('MEMOCALL_PRECONDITION_FAILED', `conditional write to ${uri} refused: ${what}`, options);
    this.uri = uri;
    this.condition = condition;
  }
}

/** A URI whose scheme has no registered store, or that a store cannot parse. */
export class UnsupportedUriError extends MemocallError {
  readonly uri: string;

  constructor(uri: string, problem: string) {
    super('MEMOCALL_UNSUPPORTED_URI', `${uri}: ${problem}`);
    this.uri = uri;
  }
}

/** Bytes read do not match the SHA-256 (or size) stored with the object when it was written:
 * corruption (or tampering) of the stored object. Raised by every store that keeps digests. */
export class IntegrityError extends MemocallError {
  readonly uri: string;
  readonly expected: string;
  readonly actual: string;

  constructor(uri: string, expected: string, actual: string) {
    super(
      'MEMOCALL_INTEGRITY',
      `${uri}: content does not match its stored sha256 (expected ${expected}, read ${actual})`,
    );
    this.uri = uri;
    this.expected = expected;
    this.actual = actual;
  }
}

/** An object too large to be returned as one byte array in this process (`getFile` still works). */
export class BlobTooLargeError extends MemocallError {
  readonly uri: string;
  readonly size: number;

  constructor(uri: string, size: number, options?: { cause?: unknown }) {
    super(
      'MEMOCALL_BLOB_TOO_LARGE',
      `${uri}: ${size} bytes do not fit in one buffer here; read it with getFile`,
      options,
    );
    this.uri = uri;
    this.size = size;
  }
}
