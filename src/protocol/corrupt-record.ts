import { MemocallError } from '../core/memocall-error.js';
import { redactUri } from '../core/redact-uri.js';

/** The warning code (and error code) of a stored record that cannot be what memocall wrote. */
export const CORRUPT_RECORD = 'MEMOCALL_CORRUPT_RECORD';

/**
 * A stored record (`result`, `error`, `lease`, `invocation`) that cannot be decoded, or decodes to
 * something memocall never writes. Anyone who can write to the store can produce one (a crash, a
 * buggy version, a hostile job), so readers treat it as corruption, never trust its fields.
 */
export class CorruptRecordError extends MemocallError {
  readonly uri: string;
  readonly problem: string;

  constructor(uri: string, problem: string, options?: { cause?: unknown }) {
    const printed = printable(problem);
    super(CORRUPT_RECORD, `${redactUri(uri)}: corrupt record: ${printed}`, options);
    this.uri = uri;
    this.problem = printed;
  }
}

/**
 * Something that is not a stored object sits where a record must go (on `file://`, a directory at
 * the record's path): the store refuses to create the record and reads find none. Only a person
 * can remove it, so this is an error, never a retry loop.
 */
export class RecordPathBlockedError extends MemocallError {
  readonly uri: string;

  constructor(uri: string) {
    super(
      'MEMOCALL_RECORD_PATH_BLOCKED',
      `${redactUri(uri)}: the store refuses to create this record, yet reading it finds no object: something else (a directory?) is at its path; remove it`,
    );
    this.uri = uri;
  }
}

/**
 * Store-level integrity failures on read: the bytes do not match the checksum stored with them
 * (`IntegrityError`, `MEMOCALL_INTEGRITY`, in blobstore/cloud/integrity.ts, which every store that
 * keeps checksums raises). Matched by code: importing that module would load the cloud kit.
 */
const STORE_INTEGRITY_CODES: ReadonlySet<string> = new Set(['MEMOCALL_INTEGRITY']);

/** Whether a read failed because the stored object is corrupt (its record or its checksum). */
export function isCorruption(err: unknown): err is MemocallError & { uri?: string } {
  return err instanceof CorruptRecordError || (err instanceof MemocallError && STORE_INTEGRITY_CODES.has(err.code));
}

const PROBLEM_MAX_CHARS = 300;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * A problem description fit for a terminal: parsers quote the bytes they choke on, and stored
 * bytes are anyone's, so control characters (escape sequences) are escaped and length capped.
 */
export function printable(text: string): string {
  const escaped = text.replace(CONTROL_CHARACTERS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return escaped.length > PROBLEM_MAX_CHARS ? `${escaped.slice(0, PROBLEM_MAX_CHARS)}…` : escaped;
}

const WARNED_MAX = 1000;
const warned = new Set<string>();

/**
 * Warns (`process.emitWarning`, code MEMOCALL_CORRUPT_RECORD) that the record at `uri` is corrupt
 * and what memocall does about it. Once per record and problem per process: a waiter polling a
 * corrupt record must not print it every poll.
 */
export function warnCorruptRecord(uri: string, err: unknown, treatment: string): void {
  const problem = printable(
    err instanceof CorruptRecordError ? err.problem : err instanceof Error ? err.message : String(err),
  );
  const key = `${uri}\n${problem}`;
  if (warned.has(key)) return;
  if (warned.size >= WARNED_MAX) warned.delete(warned.values().next().value!);
  warned.add(key);
  process.emitWarning(`corrupt record at ${redactUri(uri)} (${redactUri(problem)}): ${treatment}`, {
    code: CORRUPT_RECORD,
  });
}

/** Forgets which corrupt records were warned about (tests). */
export function forgetCorruptRecordWarningsForTests(): void {
  warned.clear();
}
