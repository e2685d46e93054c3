import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { isSha256Hex } from '../cache/cache-layout.js';
import { PointerFileError } from './errors.js';

/**
 * The small JSON file left at a DestFile's local path on the caller's side, saying where the
 * real bytes are:  {"memocall":"file-pointer/1","uri":"s3://…","sha256":"…","size":123}
 */
export const POINTER_FORMAT = 'file-pointer/1';

export interface FilePointer {
  uri: string;
  sha256: string;
  size: number;
}

/** Writes the pointer atomically (temp + rename), creating parent directories. */
export function writePointerFile(file: string, pointer: FilePointer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    fs.writeFileSync(
      tmp,
      `${JSON.stringify({ memocall: POINTER_FORMAT, uri: pointer.uri, sha256: pointer.sha256, size: pointer.size })}\n`,
    );
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** Pointers are tiny; anything larger is data, not a pointer (so a big file is never read whole). */
const MAX_POINTER_BYTES = 64 * 1024;

/** The pointer in `file`, or undefined if the file is not a memocall pointer. Missing file: PointerFileError. */
export function readPointerFileIfAny(file: string): FilePointer | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    throw new PointerFileError(file, 'no such file', { cause: err });
  }
  if (!st.isFile() || st.size > MAX_POINTER_BYTES) return undefined;
  return parsePointer(fs.readFileSync(file, 'utf8'));
}

export function readPointerFile(file: string): FilePointer {
  const pointer = readPointerFileIfAny(file);
  if (!pointer)
    throw new PointerFileError(
      file,
      `not a memocall pointer file (expected JSON with "memocall": "${POINTER_FORMAT}")`,
    );
  return pointer;
}

function parsePointer(text: string): FilePointer | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null) return undefined;
  const p = data as Record<string, unknown>;
  if (
    p.memocall !== POINTER_FORMAT ||
    typeof p.uri !== 'string' ||
    typeof p.sha256 !== 'string' ||
    !isSha256Hex(p.sha256)
  )
    return undefined;
  if (typeof p.size !== 'number' || !Number.isSafeInteger(p.size) || p.size < 0) return undefined;
  return { uri: p.uri, sha256: p.sha256, size: p.size };
}
