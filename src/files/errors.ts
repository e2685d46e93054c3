import { MemocallError } from '../core/memocall-error.js';

/** `localSrc`/`fromFile` of something that is not a readable regular file. */
export class LocalFileNotFoundError extends MemocallError {
  readonly path: string;

  constructor(path: string, options?: { cause?: unknown }) {
    super('MEMOCALL_LOCAL_FILE_NOT_FOUND', `${path} is not a readable file`, options);
    this.path = path;
  }
}

/** A file value's bytes cannot be located: no local copy and no blob root to fetch them from. */
export class FileUnavailableError extends MemocallError {
  constructor(message: string) {
    super('MEMOCALL_FILE_UNAVAILABLE', message);
  }
}

/** A file value was encoded before its content hash was computed (outside a memoized call). */
export class FileNotPreparedError extends MemocallError {
  constructor(what: string) {
    super(
      'MEMOCALL_FILE_NOT_PREPARED',
      `${what} has no content hash yet; memoized calls compute it before the key (await file.prepare() to do it yourself)`,
    );
  }
}

/** A DestFile returned by a function was never written at its localPath. */
export class DestFileNotWrittenError extends MemocallError {
  readonly uri: string;
  readonly localPath: string;

  constructor(uri: string, localPath: string) {
    super('MEMOCALL_DEST_NOT_WRITTEN', `the returned DestFile for ${uri} was never written (nothing at ${localPath})`);
    this.uri = uri;
    this.localPath = localPath;
  }
}

/** Two different outputs of one result would be uploaded to the same URI. */
export class DuplicateOutputUriError extends MemocallError {
  readonly uri: string;

  constructor(uri: string, first: string, second: string) {
    super(
      'MEMOCALL_DUPLICATE_OUTPUT',
      `two outputs of one result would be uploaded to ${uri}: ${first} and ${second}; give them distinct names`,
    );
    this.uri = uri;
  }
}

/** A pointer file is missing, unreadable or not a memocall pointer. */
export class PointerFileError extends MemocallError {
  readonly path: string;

  constructor(path: string, problem: string, options?: { cause?: unknown }) {
    super('MEMOCALL_POINTER_FILE', `${path}: ${problem}`, options);
    this.path = path;
  }
}

/** `invocationOutputFqn` outside a running invocation. */
export class NotInInvocationError extends MemocallError {
  constructor(what: string) {
    super('MEMOCALL_NOT_IN_INVOCATION', `${what} only works inside a running memoized call`);
  }
}

/** A relative path that would leave its root (`..`, absolute) in DestFileContext/SrcFileContext. */
export class InvalidRelativePathError extends MemocallError {
  readonly relPath: string;

  constructor(relPath: string) {
    super('MEMOCALL_INVALID_RELATIVE_PATH', `${JSON.stringify(relPath)} must be a relative path without '..' segments`);
    this.relPath = relPath;
  }
}

/** `invocationOutputFqn(name)` with a name that would leave the output namespace or is not a path. */
export class InvalidOutputNameError extends MemocallError {
  readonly outputName: string;

  constructor(outputName: string, problem: string) {
    super('MEMOCALL_INVALID_OUTPUT_NAME', `invocationOutputFqn(${JSON.stringify(outputName)}): ${problem}`);
    this.outputName = outputName;
  }
}
