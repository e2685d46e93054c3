import { getIfExists } from '../blobstore/get-if-exists.js';
import { lookupBlobStore } from '../blobstore/registry.js';
import { KEY_FORMAT_VERSION } from '../core/key-format.js';
import { sha256Hex } from '../core/sha256.js';
import type { FinalizeContext } from '../execute/value-hooks.js';
import type { Digest } from './file-value.js';
import { currentContentSha256 } from './output-content.js';

/** Warning code of an output uploaded over a URI that holds another invocation's output. */
export const OUTPUT_OVERWRITE = 'MEMOCALL_OUTPUT_OVERWRITE';

/**
 * Which invocation last uploaded an output URI: one small JSON record per URI under the memo
 * URI's blob root, `<blobRoot>/memocall-v1/outputs/sha256/<sha256(uri)>` (the output itself is
 * left as the function wrote it: no sidecar next to the user's files, and every store works the
 * same). Only used to warn: the record is read as untrusted data.
 */
export function producerRecordUri(blobRoot: string, uri: string): string {
  const root = blobRoot.endsWith('/') ? blobRoot.slice(0, -1) : blobRoot;
  return `${root}/${KEY_FORMAT_VERSION}/outputs/sha256/${sha256Hex(uri)}`;
}

interface ProducerRecord {
  uri: string;
  memoUri: string;
  runId: string;
  sha256: string;
  size: number;
}

/**
 * Before uploading to `uri`: when it holds (still, byte for byte) the output of another
 * invocation, warn naming both calls, and return the warning for the run's record.
 */
export async function warnIfOverwriting(uri: string, ctx: FinalizeContext): Promise<string | undefined> {
  const record = await readProducer(ctx.memo.blobRoot, uri);
  if (!record || record.memoUri === ctx.memoUri) return undefined;
  const now = await currentContentSha256(uri).catch(() => null);
  if (now !== record.sha256) return undefined; // gone, or since replaced by something else
  const message = `${uri} holds the output of ${JSON.stringify(record.memoUri)}; ${ctx.memoUri} now overwrites it, so that call's result points at changed bytes (it runs again when next called). Give each call its own output URI (invocationOutputFqn, or a path derived from the arguments)`;
  process.emitWarning(message, { code: OUTPUT_OVERWRITE });
  return `${OUTPUT_OVERWRITE}: ${message}`;
}

/** After uploading `digest` to `uri`: this invocation produced it. */
export async function recordProducer(uri: string, digest: Digest, ctx: FinalizeContext): Promise<void> {
  const record: ProducerRecord = { uri, memoUri: ctx.memoUri, runId: ctx.runId, ...digest };
  const target = producerRecordUri(ctx.memo.blobRoot, uri);
  await lookupBlobStore(target).put(target, new TextEncoder().encode(`${JSON.stringify(record)}\n`));
}

async function readProducer(blobRoot: string, uri: string): Promise<ProducerRecord | undefined> {
  const target = producerRecordUri(blobRoot, uri);
  const bytes = await getIfExists(lookupBlobStore(target), target);
  if (!bytes || bytes.byteLength > 64 * 1024) return undefined;
  try {
    const r = JSON.parse(new TextDecoder().decode(bytes)) as Partial<ProducerRecord>;
    if (r.uri !== uri || typeof r.memoUri !== 'string' || typeof r.sha256 !== 'string') return undefined;
    return r as ProducerRecord;
  } catch {
    return undefined; // torn or foreign: no warning
  }
}
