import { decodeCanonical } from '../core/canonical-decode.js';
import type { ValidateContext } from '../execute/value-hooks.js';
import { DestFile } from './dest-file.js';
import type { FileValue } from './file-value.js';
import { currentContentSha256 } from './output-content.js';
import { Source } from './source.js';
import { collectInstances } from './value-walk.js';

/** Warning code of a stored result whose returned files no longer hold what it recorded. */
export const STALE_OUTPUT = 'MEMOCALL_STALE_OUTPUT';

// The codec names as they appear in an encoded value: a result without them returns no output.
const OUTPUT_CODECS = [Buffer.from('memocall:dest-file'), Buffer.from('memocall:source')];
const mayHoldOutputs = new WeakMap<Uint8Array, boolean>();
/** Stale outputs already reported, so one stale result warns once per process. */
const reported = new Set<string>();

/**
 * Before a stored (or process-cached) result is used: each DestFile and remote Source it returns
 * must still hold the content recorded (SHA-256). A fixed output path reused by a call with other
 * arguments overwrites it; the earlier call's result then points at other bytes, and is a miss:
 * the call runs again and rewrites its file (warning MEMOCALL_STALE_OUTPUT, naming the URI).
 * Undefined (no work) for results that return no such file. A store that cannot be asked (no
 * credentials, unknown scheme) is no evidence of change: the result stands.
 */
export function storedOutputsUnchanged(encoded: Uint8Array, ctx: ValidateContext): Promise<boolean> | undefined {
  let may = mayHoldOutputs.get(encoded);
  if (may === undefined) {
    const bytes = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
    may = OUTPUT_CODECS.some((name) => bytes.includes(name));
    mayHoldOutputs.set(encoded, may);
  }
  return may ? outputsUnchanged(encoded, ctx) : undefined;
}

async function outputsUnchanged(encoded: Uint8Array, ctx: ValidateContext): Promise<boolean> {
  const recorded = new Map<string, string>(); // uri → sha256 the result says it holds
  const isOutput = (v: object): v is FileValue | DestFile => v instanceof DestFile || v instanceof Source;
  for (const out of collectInstances(decodeCanonical(encoded), isOutput)) {
    if (out instanceof DestFile) {
      if (out.digest) recorded.set(out.uri, out.digest.sha256);
    } else if (out.state.kind === 'remote' && out.state.digest) {
      recorded.set(out.state.uri, out.state.digest.sha256);
    }
  }
  const checks = [...recorded].map(async ([uri, sha256]) => {
    const now = await currentContentSha256(uri).catch(() => sha256);
    if (now === sha256) return true;
    const key = `${ctx.memoUri}\n${uri}\n${now}`;
    if (!reported.has(key)) {
      reported.add(key);
      process.emitWarning(
        `${uri} no longer holds the file returned by ${ctx.memoUri} (sha256 ${sha256}, now ${now === null ? 'absent' : `sha256 ${now}`}): the call runs again. Another call probably wrote the same output path; give each call its own (invocationOutputFqn, or a path derived from the arguments)`,
        { code: STALE_OUTPUT },
      );
    }
    return false;
  });
  return (await Promise.all(checks)).every(Boolean);
}
