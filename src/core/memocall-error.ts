/** Base class of every error memocall throws on purpose: `code` is stable, `message` is for people. */
export class MemocallError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
