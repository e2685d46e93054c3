import { decodeCanonical } from '../core/canonical-decode.js';
import type { BlobStore } from '../blobstore/blob-store.js';
import { PreconditionFailedError } from '../blobstore/errors.js';
import { lookupBlobStore } from '../blobstore/registry.js';
import { ConfigurationError, LeaseLostError } from './errors.js';
import { encodeErrorRecord, toStoredError } from './error-record.js';
import { runInInvocation } from './invocation-context.js';
import { decodeInvocation, type InvocationRecord } from './invocation-record.js';
import { adoptLease, heldLeaseOf, type HeldLease } from './lease.js';
import { memoFile } from './memo-uri.js';
import { resolveInvokedFunction } from './module-loader.js';
import { encodeResult } from './result-record.js';
import { processResultCache } from './result-cache.js';
import { encodeRunMetadata, invokedBy, MEMOCALL_VERSION, type RunMetadata } from './run-metadata.js';
import { newRunId } from './run-id.js';
import { reportOutcome, takeInvocation } from './same-process-handoff.js';

/** Exit codes of `memocall run`, so shims (and Kubernetes pod failure policies) can tell them apart. */
export const RUN_EXIT = {
  /** `result` is written (by this run, or it already existed: a lost race). */
  ok: 0,
  /** memocall itself failed (storage, a missing module...): nothing was decided. */
  internal: 1,
  /** The user's function threw; `error` is written. */
  userError: 46,
  /** The lease belongs to another writer: the function was not run, or its result not written. */
  leaseLost: 47,
} as const;

export type RunStatus = 'ok' | 'lost-race' | 'user-error' | 'lease-lost';

export interface RunRequest {
  memoUri: string;
  /** The orchestrator's lease writer id: the run is fenced by it. Absent: no lease check. */
  writerId?: string;
}

/** `['run', memoUri, '--writer-id', id]` → a run request; unknown flags are ignored (newer callers). */
export function parseRunArgv(argv: readonly string[]): RunRequest {
  const [command, memoUri, ...rest] = argv;
  if (command !== 'run' || !memoUri) throw new ConfigurationError(`expected: run <memo-uri> [--writer-id ID], got: ${argv.join(' ')}`);
  const request: RunRequest = { memoUri };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--writer-id') request.writerId = rest[++i];
    else if (arg.startsWith('--writer-id=')) request.writerId = arg.slice('--writer-id='.length);
  }
  return request;
}

/**
 * The remote side of an invocation: load it, check the lease still names the caller, run only
 * the user's function inside the error boundary, then write `result` (first writer wins) or
 * `error`, and a `meta/<runId>.json` record. Internal failures throw; user failures are written.
 */
export async function runInvocation(request: RunRequest): Promise<RunStatus> {
  const { memoUri, writerId } = request;
  const store = lookupBlobStore(memoUri);
  const runId = newRunId();
  const startedAt = new Date();
  const invocation = takeInvocation(memoUri, writerId) ?? decodeInvocation(await store.get(memoFile.invocation(memoUri)));

  const writeMeta = (outcome: RunMetadata['outcome'], detail?: string) =>
    store.put(memoFile.meta(memoUri, runId), encodeRunMetadata(runMetadata(memoUri, invocation, runId, startedAt, outcome, detail)));

  let lease: HeldLease | undefined;
  let adopted = false;
  if (writerId !== undefined) {
    lease = heldLeaseOf(writerId);
    if (!lease) {
      try {
        lease = await adoptLease(store, memoFile.lease(memoUri), writerId);
        adopted = true;
      } catch (err) {
        if (!(err instanceof LeaseLostError)) throw err;
        await writeMeta('lease-lost', err.message);
        reportOutcome(memoUri, writerId, { kind: 'lease-lost' });
        return 'lease-lost';
      }
    }
  }
  try {
    const fn = await resolveInvokedFunction(invocation);
    const args = decodeCanonical(invocation.args) as unknown[];

    // The boundary: only the user's code (and encoding what it returned) can produce a user error.
    let threw = false;
    let thrown: unknown;
    let encoded: ReturnType<typeof encodeResult> | undefined;
    const finishedAt = () => new Date().toISOString();
    try {
      const value = await runInInvocation({ memoUri, memo: invocation.memo, runId }, () => fn.raw(...args));
      encoded = encodeResult(value, { runId, writerId: writerId ?? '', functionId: invocation.functionId, finishedAt: finishedAt() });
    } catch (err) {
      threw = true;
      thrown = err;
    }

    // Fence: a runner whose lease was taken over must not write over the new holder's work.
    if (lease) {
      try {
        await lease.verify();
      } catch (err) {
        if (!(err instanceof LeaseLostError)) throw err;
        await writeMeta('lease-lost', err.message);
        reportOutcome(memoUri, writerId, { kind: 'lease-lost' });
        return 'lease-lost';
      }
    }

    if (threw) {
      const record = { error: toStoredError(thrown), runId, writerId: writerId ?? '', functionId: invocation.functionId, finishedAt: finishedAt() };
      await Promise.all([store.put(memoFile.error(memoUri), encodeErrorRecord(record)), writeMeta('error', record.error.message)]);
      reportOutcome(memoUri, writerId, { kind: 'error', error: thrown });
      return 'user-error';
    }
    const { record, value } = encoded!;
    // The run record is written alongside the result; a lost race (rare) rewrites it.
    const [won] = await Promise.all([putFirstResult(store, memoUri, record), writeMeta('result')]);
    processResultCache.set(memoUri, value);
    if (!won) {
      await Promise.all([store.put(memoFile.lostRace(memoUri, runId), encodeRunMetadata(runMetadata(memoUri, invocation, runId, startedAt, 'lost-race'))), writeMeta('lost-race')]);
      reportOutcome(memoUri, writerId, { kind: 'lost-race' });
      return 'lost-race';
    }
    reportOutcome(memoUri, writerId, { kind: 'result', value });
    return 'ok';
  } finally {
    if (adopted) await lease?.release();
  }
}

async function putFirstResult(store: BlobStore, memoUri: string, record: Uint8Array): Promise<boolean> {
  try {
    await store.put(memoFile.result(memoUri), record, { ifNoneMatch: '*' });
    return true;
  } catch (err) {
    if (err instanceof PreconditionFailedError) return false;
    throw err;
  }
}

function runMetadata(memoUri: string, invocation: InvocationRecord, runId: string, startedAt: Date, outcome: RunMetadata['outcome'], detail?: string): RunMetadata {
  const ended = new Date();
  const meta: RunMetadata = {
    runId,
    memoUri,
    functionId: invocation.functionId,
    pipelineId: invocation.memo.pipelineId,
    writerId: invocation.writerId,
    outcome,
    invokedAt: invocation.invokedAt,
    invokedBy: invocation.invokedBy,
    startedAt: startedAt.toISOString(),
    endedAt: ended.toISOString(),
    durationMs: ended.getTime() - startedAt.getTime(),
    host: invokedBy().split('@')[1] ?? '',
    pid: process.pid,
    node: process.version,
    memocallVersion: MEMOCALL_VERSION,
  };
  if (process.env.MEMOCALL_CODE_VERSION) meta.codeVersion = process.env.MEMOCALL_CODE_VERSION;
  if (detail !== undefined) meta.detail = detail;
  return meta;
}
