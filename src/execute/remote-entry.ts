import { decodeCanonical } from '../core/canonical-decode.js';
import type { BlobStore, PutOptions } from '../blobstore/blob-store.js';
import { PreconditionFailedError } from '../blobstore/errors.js';
import { lookupBlobStore } from '../blobstore/registry.js';
import { BadInvocationError, LeaseLostError } from './errors.js';
import { decodeErrorRecord, encodeErrorRecord, toStoredError } from '../protocol/error-record.js';
import { runInInvocation } from './invocation-context.js';
import { finalizeResult } from './value-hooks.js';
import { decodeInvocation, type InvocationRecord } from '../protocol/invocation-record.js';
import { adoptLease, heldLeaseOf, tryAcquireLease, type HeldLease, type LeaseRecord } from './lease.js';
import { memoFile } from '../protocol/memo-uri.js';
import { resolveInvokedFunction } from './module-loader.js';
import { decodeResultRecord, encodeResult } from '../protocol/result-record.js';
import {
  CorruptRecordError,
  isCorruption,
  RecordPathBlockedError,
  warnCorruptRecord,
} from '../protocol/corrupt-record.js';
import { readRecordOrWarn, readVersionedRecord, type VersionedRecord } from '../protocol/read-record.js';
import { processResultCache } from './result-cache.js';
import { encodeRunMetadata, invokedBy, MEMOCALL_VERSION, type RunMetadata } from '../protocol/run-metadata.js';
import { newRunId, newWriterId } from '../protocol/run-id.js';
import { reportOutcome, takeInvocation } from './same-process-handoff.js';
import type { RunRequest, RunStatus } from '../protocol/run-request.js';
import { DEFAULTS } from '../protocol/defaults.js';
import { settingsFromEnv } from '../protocol/settings-env.js';

export type { RunRequest, RunStatus } from '../protocol/run-request.js';

export interface RunReport {
  status: RunStatus;
  /** The id of this execution (`meta/<runId>.json`). */
  runId: string;
  /** For people: why the run ended this way. */
  detail: string;
}

/** Lease TTL of a run started by hand (no caller maintains its lease). */
function manualLeaseTtlMs(): number {
  return settingsFromEnv().leaseTtlMs ?? DEFAULTS.leaseTtlMs;
}

/**
 * The remote side of an invocation. In order:
 *  1. read the invocation, whether a result exists (then nothing runs), and the lease: it must
 *     still name the caller's writer id, else nothing runs (`lease-lost`, recorded in meta);
 *  2. keep the lease alive while running (as a second holder: only the caller releases it);
 *  3. import the function's module and decode the arguments (failures here are memocall's);
 *  4. run only the user's function inside the error boundary;
 *  5. fence again, then write `error`, or `result` (the first writer wins; a loser leaves a
 *     `lost-race/<runId>.json` record), and `meta/<runId>.json`.
 * Internal failures throw (exit 1) and write nothing but a best-effort meta record.
 */
export async function runInvocation(request: RunRequest): Promise<RunReport> {
  const { memoUri, writerId } = request;
  const store = lookupBlobStore(memoUri);
  const runId = newRunId();
  const startedAt = new Date();
  // A same-process caller (samethread) hands the invocation over and holds the lease itself.
  const handedOver = takeInvocation(memoUri, writerId);
  let invocation: InvocationRecord | undefined = handedOver;
  let lease: HeldLease | undefined = writerId === undefined ? undefined : heldLeaseOf(writerId);
  let ownsLease = false;
  let adopted = false;

  // Filled by the memoized calls the function makes (see memo/undeclared-calls.ts).
  const nestedCalls = new Map<string, boolean>();
  let warnings: string[] = [];
  // The record names the writer the run was fenced by (its own lease's, when started by hand).
  const writeMeta = (outcome: RunMetadata['outcome'], detail?: string) =>
    store.put(
      memoFile.meta(memoUri, runId),
      encodeRunMetadata({
        ...runMetadata(memoUri, invocation!, runId, startedAt, outcome, detail),
        writerId: lease?.writerId ?? writerId ?? invocation!.writerId,
        ...(nestedCalls.size
          ? { nestedCalls: [...nestedCalls].map(([functionId, declared]) => ({ functionId, declared })) }
          : {}),
        ...(warnings.length ? { warnings } : {}),
      }),
    );
  const end = async (status: RunStatus, detail: string, meta?: RunMetadata['outcome']): Promise<RunReport> => {
    if (meta) await writeMeta(meta, detail);
    return { status, runId, detail };
  };

  try {
    if (!handedOver) {
      // Three independent reads at once: on an object store each is a round trip.
      const adopting =
        writerId !== undefined && !lease ? adoptLease(store, memoFile.lease(memoUri), writerId) : undefined;
      const [read, done, adoption] = await Promise.allSettled([
        readInvocation(store, memoUri),
        resultExists(store, memoUri),
        adopting,
      ]);
      if (adoption.status === 'fulfilled' && adoption.value) {
        lease = adoption.value;
        adopted = true;
      }
      if (done.status === 'fulfilled' && done.value)
        return await end('already-done', `${memoUri} already has a result: nothing to run`);
      if (read.status === 'rejected') throw read.reason;
      invocation = read.value;
      if (done.status === 'rejected') throw done.reason;
      if (adoption.status === 'rejected') {
        if (!(adoption.reason instanceof LeaseLostError)) throw adoption.reason;
        reportOutcome(memoUri, writerId, { kind: 'lease-lost' });
        return await end('lease-lost', `not run: ${adoption.reason.message}`, 'lease-lost');
      }
      if (writerId === undefined) {
        // Started by hand: take a lease like any caller, so a live caller's run is never doubled.
        const attempt = await tryAcquireLease(store, memoFile.lease(memoUri), newWriterId(), {
          ttlMs: manualLeaseTtlMs(),
        });
        if (!attempt.acquired)
          return await end('lease-lost', `not run: ${describeHolder(attempt.holder)}`, 'lease-lost');
        lease = attempt.lease;
        ownsLease = true;
      }
    }
    // A same-process caller whose lease was lost (or released) no longer holds it: run nothing.
    if (writerId !== undefined && !lease)
      return await end('lease-lost', `not run: writer ${writerId} no longer holds the lease`, 'lease-lost');
    const inv = invocation!;
    const fenceId = lease?.writerId ?? writerId ?? '';

    const fn = await resolveInvokedFunction(inv, memoFile.invocation(memoUri));
    const args = decodeArgs(inv, memoUri);

    // The boundary: only the user's code (and encoding what it returned) can produce a user error.
    let threw = false;
    let thrown: unknown;
    let encoded: ReturnType<typeof encodeResult> | undefined;
    const finishedAt = () => new Date().toISOString();
    // In another process than the caller, a lost lease ends the run at once: its work would be
    // fenced off anyway (the process exits; in-process the function cannot be stopped).
    const stopOnLoss = adopted && lease ? lease.lostSignal : undefined;
    try {
      const returned = Promise.resolve(
        runInInvocation({ memoUri, memo: inv.memo, runId, nestedCalls }, () => fn.raw(...args)),
      );
      const value = stopOnLoss ? await Promise.race([returned, lostMarker(stopOnLoss, returned)]) : await returned;
      if (value === LOST)
        return await end(
          'lease-lost',
          `stopped while running: ${String((stopOnLoss!.reason as Error | undefined)?.message)}`,
          'lease-lost',
        );
      // Hooks (e.g. uploading returned files) finish before the result exists, so a visible result never points at missing data.
      const finalizing = finalizeResult(value, { memoUri, memo: inv.memo, runId });
      if (finalizing) warnings = await finalizing;
      encoded = encodeResult(value, { runId, writerId: fenceId, functionId: inv.functionId, finishedAt: finishedAt() });
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
        reportOutcome(memoUri, writerId, { kind: 'lease-lost' });
        return await end('lease-lost', `ran, but wrote nothing: ${err.message}`, 'lease-lost');
      }
    }

    if (threw) {
      const record = {
        error: toStoredError(thrown),
        runId,
        writerId: fenceId,
        functionId: inv.functionId,
        finishedAt: finishedAt(),
      };
      const [stored] = await Promise.all([
        putFencedError(store, memoUri, encodeErrorRecord(record), fenceId, lease),
        writeMeta('error', record.error.message),
      ]);
      if (!stored) {
        // The lease was taken over between the fence and the write: this run publishes nothing.
        const detail = `ran and threw (${record.error.name}: ${record.error.message}), but wrote nothing: writer ${fenceId} no longer holds the lease`;
        await Promise.all([
          store.put(
            memoFile.lostRace(memoUri, runId),
            encodeRunMetadata(runMetadata(memoUri, inv, runId, startedAt, 'lease-lost', detail)),
          ),
          writeMeta('lease-lost', detail),
        ]);
        reportOutcome(memoUri, writerId, { kind: 'lease-lost' });
        return { status: 'lease-lost', runId, detail };
      }
      reportOutcome(memoUri, writerId, { kind: 'error', error: thrown });
      return {
        status: 'user-error',
        runId,
        detail: `the function threw: ${record.error.name}: ${record.error.message}`,
      };
    }
    const { record, value } = encoded!;
    // The run record is written alongside the result; a lost race (rare) rewrites it.
    const [won] = await Promise.all([
      putFirstResult(store, memoUri, record),
      writeMeta('result', warnings.length ? warnings.join('\n') : undefined),
    ]);
    processResultCache.set(memoUri, value);
    if (!won) {
      await Promise.all([
        store.put(
          memoFile.lostRace(memoUri, runId),
          encodeRunMetadata(runMetadata(memoUri, inv, runId, startedAt, 'lost-race')),
        ),
        writeMeta('lost-race'),
      ]);
      reportOutcome(memoUri, writerId, { kind: 'lost-race' });
      return { status: 'lost-race', runId, detail: 'another run wrote the result first; it stands' };
    }
    reportOutcome(memoUri, writerId, { kind: 'result', value });
    return { status: 'ok', runId, detail: 'result written' };
  } catch (err) {
    // Never the user's error: nothing is written but a note of the failure, for `memocall inspect`.
    if (invocation)
      await writeMeta('internal-error', err instanceof Error ? err.message : String(err)).catch(() => undefined);
    throw err;
  } finally {
    // An adopted lease only stops being maintained (the caller releases it); our own is released.
    if (adopted || ownsLease) await lease?.release();
  }
}

const LOST = Symbol('lease lost');

/** Resolves to LOST when `signal` fires; the abandoned `work` can no longer reject unhandled. */
function lostMarker(signal: AbortSignal, work: Promise<unknown>): Promise<typeof LOST> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(LOST);
    const onLost = () => {
      work.catch(() => undefined);
      resolve(LOST);
    };
    signal.addEventListener('abort', onLost, { once: true });
    void work.then(
      () => signal.removeEventListener('abort', onLost),
      () => signal.removeEventListener('abort', onLost),
    );
  });
}

async function readInvocation(store: BlobStore, memoUri: string): Promise<InvocationRecord> {
  const uri = memoFile.invocation(memoUri);
  try {
    return decodeInvocation(await store.get(uri), uri);
  } catch (err) {
    if (!isCorruption(err)) throw err;
    // Never run from a record memocall did not write; the next caller writes a fresh one.
    warnCorruptRecord(uri, err, 'nothing runs');
    const problem = err instanceof CorruptRecordError ? err.problem : err.message;
    throw new BadInvocationError(uri, `corrupt record: ${problem}`, { cause: err });
  }
}

function decodeArgs(invocation: InvocationRecord, memoUri: string): unknown[] {
  let args: unknown;
  try {
    args = decodeCanonical(invocation.args);
  } catch (err) {
    throw new BadInvocationError(
      memoFile.invocation(memoUri),
      `its arguments cannot be decoded (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  if (!Array.isArray(args))
    throw new BadInvocationError(memoFile.invocation(memoUri), 'its arguments are not an array');
  return args;
}

/** Whether a result is stored that can be read back: a corrupt one is to be replaced, not trusted. */
async function resultExists(store: BlobStore, memoUri: string): Promise<boolean> {
  const uri = memoFile.result(memoUri);
  if ((await store.head(uri)) === null) return false;
  const treatment = 'treated as absent: the call runs and replaces it';
  return (await readRecordOrWarn(store, uri, decodeResultRecord, treatment)) !== undefined;
}

function describeHolder(holder: LeaseRecord): string {
  return `the lease is held by writer ${holder.writerId} on ${holder.hostname} (pid ${holder.pid}), last refreshed ${new Date(holder.heartbeatAt).toISOString()}; wait for it, or for its expiry (${holder.ttlMs} ms after that)`;
}

/**
 * Writes the result if none is stored (the first writer wins: false when a valid one is there).
 * A corrupt stored result is replaced by compare-and-swap on its version, so a concurrent valid
 * write is never overwritten and a corrupt record never blocks the memo URI.
 */
function putFirstResult(store: BlobStore, memoUri: string, record: Uint8Array): Promise<boolean> {
  const uri = memoFile.result(memoUri);
  return putRecordOver(store, uri, record, decodeResultRecord, async (existing) => {
    if (!existing.corrupt) return false;
    warnCorruptRecord(uri, existing.corrupt, "replacing it with this run's result");
    return 'replace';
  });
}

/**
 * Writes this run's error, fenced: created if none is stored; an error already stored (by an
 * earlier holder, whose error a re-run replaces, or corrupt) is replaced only by compare-and-swap
 * on its version, and only after a fresh read of the lease finds it still ours. So a run that lost
 * its lease never replaces the error of the run that took over (false: it wrote nothing), and of
 * two writes racing over one version, one fails and looks again.
 */
function putFencedError(
  store: BlobStore,
  memoUri: string,
  record: Uint8Array,
  fenceId: string,
  lease: HeldLease | undefined,
): Promise<boolean> {
  const uri = memoFile.error(memoUri);
  return putRecordOver(store, uri, record, decodeErrorRecord, async (existing) => {
    // Our own writer's error (the caller and this remote share the writer id) is ours already.
    if (!existing.corrupt && existing.record.writerId === fenceId) return true;
    if (lease && !(await lease.stillHeld())) return false;
    if (existing.corrupt) warnCorruptRecord(uri, existing.corrupt, "replacing it with this run's error");
    return 'replace';
  });
}

/**
 * Creates the record at `uri`; when one is there, `judge` decides: `'replace'` it by
 * compare-and-swap on the version read (a concurrent write makes the swap fail and the loop look
 * again), or stop with the boolean it returns (true: counts as written). A create refused with
 * nothing to read, round after round, is a non-object at the path: RecordPathBlockedError.
 */
async function putRecordOver<T>(
  store: BlobStore,
  uri: string,
  bytes: Uint8Array,
  decode: (bytes: Uint8Array, uri: string) => T,
  judge: (existing: VersionedRecord<T>) => Promise<'replace' | boolean>,
): Promise<boolean> {
  let condition: PutOptions = { ifNoneMatch: '*' };
  for (let blockedRounds = 0; ; ) {
    try {
      await store.put(uri, bytes, condition);
      return true;
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
    }
    const existing = await readVersionedRecord(store, uri, decode);
    if (existing === null) {
      // Create refused, yet nothing to read: a race with a delete, or a non-object at the path.
      if (condition.ifNoneMatch && ++blockedRounds >= BLOCKED_ROUNDS) throw new RecordPathBlockedError(uri);
      condition = { ifNoneMatch: '*' };
      continue;
    }
    blockedRounds = 0;
    const verdict = await judge(existing);
    if (verdict !== 'replace') return verdict;
    condition = { ifMatch: existing.etag };
  }
}

const BLOCKED_ROUNDS = 5;

function runMetadata(
  memoUri: string,
  invocation: InvocationRecord,
  runId: string,
  startedAt: Date,
  outcome: RunMetadata['outcome'],
  detail?: string,
): RunMetadata {
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
