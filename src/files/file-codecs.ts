import { registerBuiltinCodec } from '../core/codec-registry.js';
import { MemocallError } from '../core/memocall-error.js';
import { isSha256Hex } from '../cache/cache-layout.js';
import { DestFile } from './dest-file.js';
import { fileValueCounters, INTERNAL, type Digest, type FilePayload } from './file-value.js';
import { Source, contentSource, fromUri } from './source.js';
import { SrcFile, contentSrc, src } from './src-file.js';

/**
 * How file values are stored inside arguments and results (tag 27 `[name, payload]`, see
 * docs/keys.md). Payloads are plain maps, readable in `memocall inspect`:
 *   memocall:src-file   {sha256, size}            a caller's local file (its bytes: the CAS)
 *                       {sha256, size, uri}       a remote file
 *   memocall:source     same as src-file
 *   memocall:dest-file  {uri, localPath?, sha256?, size?}   (hash once uploaded)
 * Changing any of this changes keys: it is part of memocall-v1.
 */

function digestOf(payload: unknown, name: string): Digest & { uri?: string } {
  const p = payload as Partial<FilePayload> | null;
  if (
    typeof p !== 'object' ||
    p === null ||
    typeof p.sha256 !== 'string' ||
    !isSha256Hex(p.sha256) ||
    !Number.isSafeInteger(p.size) ||
    (p.size ?? -1) < 0
  ) {
    throw new MemocallError('MEMOCALL_DECODE', `codec "${name}": payload is not {sha256, size[, uri]}`);
  }
  if (p.uri !== undefined && typeof p.uri !== 'string')
    throw new MemocallError('MEMOCALL_DECODE', `codec "${name}": uri is not a string`);
  return p as Digest & { uri?: string };
}

registerBuiltinCodec(
  'memocall:src-file',
  SrcFile,
  (file: SrcFile) => file.payload(),
  (payload: unknown) => {
    const d = digestOf(payload, 'memocall:src-file');
    fileValueCounters.decoded++;
    return d.uri === undefined ? contentSrc(d.sha256, d.size) : src(d.uri, d);
  },
);

registerBuiltinCodec(
  'memocall:source',
  Source,
  (file: Source) => file.payload(),
  (payload: unknown) => {
    const d = digestOf(payload, 'memocall:source');
    fileValueCounters.decoded++;
    return d.uri === undefined ? contentSource(d.sha256, d.size) : fromUri(d.uri, d);
  },
);

interface DestPayload {
  uri: string;
  localPath?: string;
  sha256?: string;
  size?: number;
}

registerBuiltinCodec(
  'memocall:dest-file',
  DestFile,
  (file: DestFile): DestPayload => {
    const out: DestPayload = { uri: file.uri };
    if (file.declaredPath !== undefined) out.localPath = file.declaredPath;
    if (file.digest) {
      out.sha256 = file.digest.sha256;
      out.size = file.digest.size;
    }
    return out;
  },
  (payload: unknown) => {
    const p = payload as Partial<DestPayload> | null;
    if (
      typeof p !== 'object' ||
      p === null ||
      typeof p.uri !== 'string' ||
      (p.localPath !== undefined && typeof p.localPath !== 'string')
    ) {
      throw new MemocallError(
        'MEMOCALL_DECODE',
        'codec "memocall:dest-file": payload is not {uri, localPath?, sha256?, size?}',
      );
    }
    const digest = p.sha256 === undefined ? undefined : digestOf(p, 'memocall:dest-file');
    fileValueCounters.decoded++;
    // The stored localPath stays part of the value (its key) but is never written to: see DestFile.
    const known = digest && { sha256: digest.sha256, size: digest.size };
    return new DestFile(INTERNAL, p.uri, p.localPath, known, 'decoded');
  },
);
