import fs from 'node:fs';
import path from 'node:path';
import { uploadFileThroughCache } from '../cache/default-cache.js';
import type { FinalizeContext, ReceiveContext } from '../execute/value-hooks.js';
import { DestFile } from './dest-file.js';
import { takeTouched } from './dest-tracking.js';
import { DestFileNotWrittenError, DuplicateOutputUriError } from './errors.js';
import { fileValueCounters, FileValue, type Digest } from './file-value.js';
import { recordProducer, warnIfOverwriting } from './output-producers.js';
import { outputNamespace, outputRelativeName } from './output-naming.js';
import { writePointerFile } from './pointer-file.js';
import { Source } from './source.js';
import { collectInstances } from './value-walk.js';

type Output = FileValue | DestFile;
const isOutput = (v: object): v is Output => v instanceof FileValue || v instanceof DestFile;

/** Warning code of a DestFile written during a call but not returned (so not uploaded). */
export const DEST_NOT_RETURNED = 'MEMOCALL_DEST_NOT_RETURNED';

/**
 * After the function returned, before its result is encoded and written: upload the files the
 * result refers to, so that a visible result never points at missing bytes.
 *  - DestFile: its local file → its URI (through the cache: a read back here is local).
 *  - local Source: → its designated URI, else `<output namespace>/<relative path>`.
 *  - local SrcFile: → the content-addressed store (like an argument).
 *  - remote file values without a known hash: fetched once to learn it.
 * Two different outputs bound for one URI fail the call (DuplicateOutputUriError). DestFiles
 * written during the call but not returned are reported; the warnings go to the run's record.
 */
export function finalizeResultFiles(value: unknown, ctx: FinalizeContext): Promise<string[]> | undefined {
  const touched = fileValueCounters.created === 0 ? [] : takeTouched<DestFile>(ctx.runId);
  const outputs = fileValueCounters.created === 0 ? [] : collectInstances(value, isOutput);
  if (outputs.length === 0 && touched.length === 0) return undefined;
  return finalize(outputs, touched, ctx);
}

async function finalize(outputs: Output[], touched: DestFile[], ctx: FinalizeContext): Promise<string[]> {
  const targets = new Map<string, string>(); // uri → what goes there (for the duplicate check)
  const claim = (uri: string, what: string): void => {
    const other = targets.get(uri);
    if (other !== undefined && other !== what) throw new DuplicateOutputUriError(uri, other, what);
    targets.set(uri, what);
  };
  const work: Array<() => Promise<void>> = [];
  const warnings: string[] = [];
  // Uploads over a URI holding another invocation's output warn; each upload is recorded as ours.
  const upload = async (local: string, uri: string): Promise<Digest> => {
    const overwriting = await warnIfOverwriting(uri, ctx);
    if (overwriting) warnings.push(overwriting);
    const digest = await uploadFileThroughCache(local, uri);
    await recordProducer(uri, digest, ctx);
    return digest;
  };
  const namespace = outputNamespace(ctx.memo, ctx.runId);
  for (const out of outputs) {
    if (out instanceof DestFile) {
      const local = out.writtenPath;
      const exists = local !== undefined && fs.existsSync(local);
      if (!exists) {
        if (out.digest) continue; // uploaded before (returned by an earlier call, passed through)
        throw new DestFileNotWrittenError(out.uri, local ?? '(its localPath was never used)');
      }
      claim(out.uri, `DestFile ${local}`);
      work.push(async () => out.uploaded(await upload(local, out.uri)));
      continue;
    }
    const s = out.state;
    if (s.kind === 'local') {
      if (out instanceof Source) {
        const uri = s.uri ?? `${namespace}/${outputRelativeName(s.localPath)}`;
        claim(uri, `Source ${s.localPath}`);
        // The output namespace is per run: only a designated URI can hold another call's output.
        const send = s.uri === undefined ? uploadFileThroughCache : upload;
        work.push(async () => out.becameRemote(uri, await send(s.localPath, uri)));
      } else {
        work.push(async () => {
          await out.preparation();
          await out.uploadToCas(ctx.memo.blobRoot);
        });
      }
    } else if (s.kind === 'remote' && !s.digest) {
      work.push(async () => {
        await out.preparation();
      });
    }
  }
  await Promise.all(work.map((w) => w()));

  const returned = new Set(outputs.filter((o): o is DestFile => o instanceof DestFile).map(destKey));
  for (const d of touched) {
    const local = d.writtenPath;
    if (local === undefined || returned.has(destKey(d)) || !fs.existsSync(local)) continue;
    const message = `DestFile ${d.uri} was written at ${local} but not returned by ${ctx.memo.functionId}: it was not uploaded`;
    process.emitWarning(message, { code: DEST_NOT_RETURNED });
    warnings.push(`${DEST_NOT_RETURNED}: ${message}`);
  }
  return warnings;
}

function destKey(d: DestFile): string {
  return `${d.uri}\n${d.writtenPath === undefined ? '' : path.resolve(d.writtenPath)}`;
}

let decodedSeen = 0;

/**
 * After the caller decoded a result: write a pointer for each returned DestFile at the local
 * path of the caller's own DestFile argument with the same URI, and tell content-only files
 * which blob root holds their bytes. Stored data is data: a local path inside the result is
 * never used (a planted result could name any file of the caller's), and a returned DestFile
 * that matches no argument gets no pointer. Walks the value only if a file value was decoded
 * since the last time (so plain results cost one comparison).
 */
export function receiveResultFiles(value: unknown, ctx: ReceiveContext): Promise<void> | undefined {
  if (fileValueCounters.decoded === decodedSeen) return undefined;
  decodedSeen = fileValueCounters.decoded;
  let ownDests: Map<string, string[]> | undefined;
  for (const out of collectInstances(value, isOutput)) {
    if (out instanceof DestFile) {
      const digest = out.digest;
      if (!digest) continue;
      ownDests ??= pointerPathsByUri(ctx.args);
      for (const at of ownDests.get(out.uri) ?? [])
        writePointerFile(path.resolve(at), { uri: out.uri, sha256: digest.sha256, size: digest.size });
    } else {
      out.bindCasRoot(ctx.blobRoot);
    }
  }
  return undefined;
}

/** The local paths the caller gave its DestFile arguments, by URI. */
function pointerPathsByUri(args: readonly unknown[]): Map<string, string[]> {
  const byUri = new Map<string, string[]>();
  for (const d of collectInstances(args, (v: object): v is DestFile => v instanceof DestFile)) {
    const at = d.pointerPath;
    if (at === undefined) continue;
    const paths = byUri.get(d.uri);
    if (!paths) byUri.set(d.uri, [at]);
    else if (!paths.includes(at)) paths.push(at);
  }
  return byUri;
}
