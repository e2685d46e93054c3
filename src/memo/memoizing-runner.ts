import { setTimeout as sleep } from 'node:timers/promises';
import { encodeArgs, keyOfEncoded } from '../core/args-key.js';
import { decodeCanonical } from '../core/canonical-decode.js';
import type { BlobStore } from '../blobstore/blob-store.js';
import { lookupBlobStore } from '../blobstore/registry.js';
import { normalizeBlobRoot } from '../protocol/blob-root.js';
import { DEFAULTS } from '../protocol/defaults.js';
import {
  abortErrorOf,
  contextSignal,
  linkSignals,
  throwIfAborted,
  untilAborted,
  withComputationSignal,
  type LinkedSignal,
} from '../execute/call-signal.js';
import { ConfigurationError } from '../core/configuration-error.js';
import { NoResultError, RemoteError } from '../protocol/errors.js';
import { decodeErrorRecord } from '../protocol/error-record.js';
import { validateId } from '../identity/function-identity.js';
import { KEY_FORMAT_VERSION } from '../core/key-format.js';
import { lookupFunction } from '../identity/function-registry.js';
import { currentInvocation, isRunningAbove } from '../execute/invocation-context.js';
import { ImportTimeCallError, isShimChild, parentWriters, WaitsOnParentError } from '../execute/parent-chain.js';
import { callerFrame, originalSourceFile } from '../identity/source-location.js';
import { encodeInvocationOfChunks } from '../protocol/invocation-record.js';
import { tryAcquireLease, type HeldLease } from '../execute/lease.js';
import { LeaseWatch } from '../execute/lease-watch.js';
import { MAX_LEASE_TTL_MS } from '../protocol/lease-record.js';
import { isTerminating, stoppedByTermination } from '../execute/termination.js';
import { functionMemospace, memoFile, type MemoUriParts } from '../protocol/memo-uri.js';
import { maskedPipelineId } from './pipeline-id-mask.js';
import { Flight } from './flight.js';
import { decodeResultRecord } from '../protocol/result-record.js';
import { readRecordOrWarn } from '../protocol/read-record.js';
import { processResultCache } from '../execute/result-cache.js';
import { invokedBy } from '../protocol/run-metadata.js';
import { newWriterId } from '../protocol/run-id.js';
import { abandonOutcome, offerInvocation, takeOutcome, withdrawInvocation } from '../execute/same-process-handoff.js';
import { runsInProcess, samethread } from '../shims/samethread.js';
import type { Shim, ShimContext } from '../shims/shim.js';
import { shimRequest } from '../shims/shim-request.js';
import { prepareArguments, receiveResult, shipArguments, validateResult } from '../execute/value-hooks.js';
import { isWriterOrAttempt } from '../protocol/attempt-writer-id.js';

export interface MemoizingRunnerOptions {
  /** Where invocations and results are stored. Default `file://~/.memocall`. */
  blobRoot?: string;
  /** Where a call that must compute runs. Default `samethread()`. */
  shim?: Shim;
  /** Groups results: the same function and arguments under another pipeline id run again. Default `'default'`. */
  pipelineId?: string;
  /** `true` (default): a stored error is ignored and the call runs again. `false`: it is re-thrown. */
  rerunErrors?: boolean;
  /** A lease not refreshed for this long may be taken over by another caller. Default 90 000 ms. */
  leaseTtlMs?: number;
  /** How often a held lease is refreshed. Default `leaseTtlMs / 2`. */
  leaseRefreshMs?: number;
  /** First wait of a caller that finds the call running elsewhere; doubles each poll. Default 1 000 ms. */
  waitInitialMs?: number;
  /** Longest wait between two polls. Default 20 000 ms. */
  waitMaxMs?: number;
  /**
   * Aborts every call of this runner (e.g. on shutdown): pending calls reject with a
   * `CallAbortedError`, their leases are released and their child processes stopped. For one
   * call or a block of calls, use `withSignal(signal, () => ...)` instead. Default: none.
   */
  signal?: AbortSignal;
}

/** What the runner knows of one memoized function (see `useRunner`). */
export interface FunctionSpec {
  functionId: string;
  logicKey: string | undefined;
  /** `calls-<hash>` of the logic keys of the functions this one calls, transitively. */
  callsSegment(): string | undefined;
  moduleId: string;
  runtimeModule: string | undefined;
}

/** Everything one leased run of an invocation needs. */
interface LeasedCall {
  spec: FunctionSpec;
  store: BlobStore;
  memoUri: string;
  parts: MemoUriParts;
  chunks: Uint8Array[];
  lease: HeldLease;
  signal: AbortSignal | undefined;
  slotHeld: boolean;
}

/** One computation per memo URI, shared by identical concurrent calls of this process. */
const inFlight = new Map<string, Flight>();

const MISS = Symbol('miss');
/** Stored results found unusable (files they returned changed since): replaced by the next run under the lease. */
const staleResults = new Set<string>();
/** The argument values an encoding was made from, for the hooks that need the values on a miss. */
const argumentsOf = new WeakMap<Uint8Array[], readonly unknown[]>();
const FAST_KEY_MAX_BYTES = 256;
const FAST_INDEX_MAX = 50_000;
/** memospace + encoded small arguments → memo URI, for calls already resolved in this process. */
const fastIndex = new Map<string, string>();

function rememberFastKey(fastKey: string, memoUri: string): void {
  if (fastIndex.size >= FAST_INDEX_MAX) fastIndex.delete(fastIndex.keys().next().value!);
  fastIndex.set(fastKey, memoUri);
}

/**
 * Forgets which calls this process resolved (tests only: see process-state.ts). Refused while a
 * call is in flight: its callers would wait on a computation nobody could join again.
 */
export function forgetResolvedCallsForTests(): void {
  if (inFlight.size > 0)
    throw new Error(`cannot reset with ${inFlight.size} call(s) in flight: ${[...inFlight.keys()].join(', ')}`);
  fastIndex.clear();
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/**
 * Memoizes calls into a blob store: a hit returns the stored result, a miss takes the lease,
 * hands the invocation to the shim, and reads the outcome back.
 */
export class MemoizingRunner {
  readonly blobRoot: string;
  readonly pipelineId: string;
  readonly shim: Shim;
  readonly rerunErrors: boolean;
  readonly leaseTtlMs: number;
  readonly leaseRefreshMs: number | undefined;
  readonly waitInitialMs: number;
  readonly waitMaxMs: number;
  readonly signal: AbortSignal | undefined;
  /** Per function, per pipeline id: the memo URI up to the arguments key. */
  private readonly memospaces = new WeakMap<FunctionSpec, Map<string, string>>();
  private storeInstance: BlobStore | undefined;

  constructor(options: MemoizingRunnerOptions = {}) {
    this.blobRoot = normalizeBlobRoot(options.blobRoot ?? DEFAULTS.blobRoot);
    this.pipelineId = options.pipelineId ?? DEFAULTS.pipelineId;
    validateId(this.pipelineId, 'pipelineId');
    this.shim = options.shim ?? samethread();
    this.rerunErrors = options.rerunErrors ?? DEFAULTS.rerunErrors;
    this.leaseTtlMs = positive(options.leaseTtlMs ?? DEFAULTS.leaseTtlMs, 'leaseTtlMs');
    if (this.leaseTtlMs > MAX_LEASE_TTL_MS)
      throw new ConfigurationError(
        `leaseTtlMs must be at most ${MAX_LEASE_TTL_MS} ms (a week; a lease is kept alive by refreshes), got ${this.leaseTtlMs}`,
      );
    this.leaseRefreshMs =
      options.leaseRefreshMs === undefined ? undefined : positive(options.leaseRefreshMs, 'leaseRefreshMs');
    this.waitInitialMs = positive(options.waitInitialMs ?? DEFAULTS.waitInitialMs, 'waitInitialMs');
    this.waitMaxMs = positive(options.waitMaxMs ?? DEFAULTS.waitMaxMs, 'waitMaxMs');
    this.signal = options.signal;
  }

  /** The store of this runner's blob root (looked up once). */
  get store(): BlobStore {
    return (this.storeInstance ??= lookupBlobStore(this.blobRoot));
  }

  /** Where a call with these arguments is (or would be) stored. Throws SerializationError for bad args. */
  memoUriOf(spec: FunctionSpec, args: readonly unknown[]): string {
    return this.locate(spec, encodeArgs(args)).memoUri;
  }

  private locate(
    spec: FunctionSpec,
    chunks: Uint8Array[],
    memospace = this.memospaceOf(spec, this.currentPipelineId()),
  ): { memoUri: string; parts: MemoUriParts } {
    const key = keyOfEncoded(chunks);
    const parts: MemoUriParts = {
      blobRoot: this.blobRoot,
      pipelineId: this.currentPipelineId(),
      functionId: spec.functionId,
      logicKey: spec.logicKey,
      callsSegment: spec.callsSegment(),
      argsKey: key,
    };
    return { memoUri: `${memospace}/${key}`, parts };
  }

  private currentPipelineId(): string {
    return maskedPipelineId() ?? this.pipelineId;
  }

  private memospaceOf(spec: FunctionSpec, pipelineId: string): string {
    let byPipeline = this.memospaces.get(spec);
    if (!byPipeline) this.memospaces.set(spec, (byPipeline = new Map()));
    let memospace = byPipeline.get(pipelineId);
    if (memospace === undefined) {
      memospace = functionMemospace({
        blobRoot: this.blobRoot,
        pipelineId,
        functionId: spec.functionId,
        logicKey: spec.logicKey,
        callsSegment: spec.callsSegment(),
      });
      byPipeline.set(pipelineId, memospace);
    }
    return memospace;
  }

  /** The result of `spec(...args)`: from memory, from storage, or by running it. */
  async call(spec: FunctionSpec, args: readonly unknown[]): Promise<unknown> {
    // In a shim's child, a call outside the invocation it runs is the top-level work of a module
    // imported to find the function: refused at once (it would wait on the caller's lease forever).
    if (isShimChild() && !currentInvocation()) throw new ImportTimeCallError(spec.functionId, callingModule());
    const memospace = this.memospaceOf(spec, this.currentPipelineId());
    const prepared = prepareArguments(args); // e.g. hash local files: their content is part of the key
    if (prepared) await prepared;
    const chunks = encodeArgs(args);
    argumentsOf.set(chunks, args);
    // Repeated calls with small arguments skip hashing: their encoding is as good a key here.
    const single = chunks.length === 1 ? chunks[0]! : undefined;
    const fastKey = single && single.byteLength <= FAST_KEY_MAX_BYTES ? `${memospace}\n${latin1(single)}` : undefined;
    if (fastKey !== undefined) {
      const known = fastIndex.get(fastKey);
      if (known !== undefined) {
        const value = processResultCache.read(known, MISS);
        if (value !== MISS && (await this.stillValid(known, processResultCache.encoded(known)))) {
          const received = receiveResult(value, { memoUri: known, blobRoot: this.blobRoot, args });
          if (received) await received;
          return value;
        }
      }
    }
    const { memoUri, parts } = this.locate(spec, chunks, memospace);
    let value = processResultCache.read(memoUri, MISS);
    if (value !== MISS && !(await this.stillValid(memoUri, processResultCache.encoded(memoUri)))) value = MISS;
    if (value === MISS) {
      // Also across processes: a remote computing this very memo URI would wait for its own lease.
      if (isRunningAbove(memoUri)) {
        throw new ConfigurationError(
          `${spec.functionId} called itself with the same arguments (${memoUri}): that would wait for itself forever`,
        );
      }
      const caller = linkSignals(this.signal, contextSignal());
      const signal = caller.signal;
      if (signal?.aborted) {
        caller.dispose();
        throw abortErrorOf(signal, memoUri);
      }
      let flight = inFlight.get(memoUri);
      if (!flight) {
        const forget = (f: Flight) => {
          if (inFlight.get(memoUri) === f) inFlight.delete(memoUri);
        };
        flight = new Flight(
          memoUri,
          (computation) => this.resolve(spec, memoUri, parts, chunks, computation),
          forget,
          signal !== undefined,
        );
        const started = flight;
        void started.promise.then(
          () => forget(started),
          () => forget(started),
        );
        inFlight.set(memoUri, flight);
      }
      try {
        value = decodeCanonical(await flight.join(signal));
      } finally {
        caller.dispose();
      }
    }
    if (fastKey !== undefined) rememberFastKey(fastKey, memoUri);
    const received = receiveResult(value, { memoUri, blobRoot: this.blobRoot, args }); // e.g. write pointer files
    if (received) await received;
    return value;
  }

  private async resolve(
    spec: FunctionSpec,
    memoUri: string,
    parts: MemoUriParts,
    chunks: Uint8Array[],
    signal: AbortSignal | undefined,
  ): Promise<Uint8Array> {
    const store = this.store;
    const stored = await this.readOutcome(store, memoUri, this.rerunErrors ? undefined : '*');
    if (stored) return stored;

    let delay = this.waitInitialMs;
    // However a lease claims to be alive, it holds this call at most its own TTL (plus the clock
    // allowance) unless someone keeps rewriting it.
    const watch = new LeaseWatch(this.leaseTtlMs);
    for (;;) {
      throwIfAborted(signal, memoUri);
      // After SIGINT/SIGTERM/SIGHUP no new work starts (see termination.ts).
      if (isTerminating()) await stoppedByTermination(memoUri);
      // A limited shim's slot is taken before the lease, never while holding it (see Shim.slots).
      const freeSlot = await this.shim.slots?.acquire(signal);
      let holder: string;
      try {
        const writerId = newWriterId();
        const attempt = await tryAcquireLease(store, memoFile.lease(memoUri), writerId, {
          ttlMs: this.leaseTtlMs,
          refreshMs: this.leaseRefreshMs,
          watch,
        });
        if (attempt.acquired) {
          const value = await this.runWithLease({
            spec,
            store,
            memoUri,
            parts,
            chunks,
            lease: attempt.lease,
            signal,
            slotHeld: freeSlot !== undefined,
          });
          if (value) return value;
          // Our lease was taken over while running: the new holder's outcome is the one to wait for.
          continue;
        }
        holder = attempt.holder.writerId;
      } finally {
        freeSlot?.();
      }
      // A caller above this process holds it, and waits for us: a wait that would never end.
      if (parentWriters().has(holder)) throw new WaitsOnParentError(spec.functionId, memoUri, holder);
      await sleep(delay, undefined, { signal }).catch(() => throwIfAborted(signal, memoUri));
      delay = Math.min(delay * 2, this.waitMaxMs);
      // A holder that failed wrote `error` under its writer id: that outcome is ours too.
      const outcome = await this.readOutcome(store, memoUri, this.rerunErrors ? holder : '*');
      if (outcome) return outcome;
    }
  }

  /**
   * `result` if stored; else the stored error is thrown when `acceptErrorFrom` is `'*'` or names
   * the writer that wrote it; else undefined.
   */
  private async readOutcome(
    store: BlobStore,
    memoUri: string,
    acceptErrorFrom: string | undefined,
  ): Promise<Uint8Array | undefined> {
    // A corrupt record is never trusted, and never blocks the memo URI: a corrupt result is a
    // miss (the run replaces it by compare-and-swap), a corrupt error is no error.
    const result = await readRecordOrWarn(
      store,
      memoFile.result(memoUri),
      decodeResultRecord,
      'treated as a miss: the call runs again and replaces it',
    );
    if (result) {
      if (await this.stillValid(memoUri, result.value)) {
        processResultCache.set(memoUri, result.value);
        return result.value;
      }
      staleResults.add(memoUri);
      return undefined;
    }
    if (acceptErrorFrom === undefined) return undefined;
    const record = await readRecordOrWarn(store, memoFile.error(memoUri), decodeErrorRecord, 'treated as absent');
    if (!record) return undefined;
    // A queued run writes under one of the caller's attempt ids (`<writerId>#a<n>`).
    if (acceptErrorFrom === '*' || isWriterOrAttempt(record.writerId, acceptErrorFrom))
      throw new RemoteError(record.error, memoUri);
    return undefined;
  }

  /** False when a hook refuses a stored or cached result (see validateResult): then it is a miss. */
  private stillValid(memoUri: string, encoded: Uint8Array | undefined): boolean | Promise<boolean> {
    return (encoded && validateResult(encoded, { memoUri, blobRoot: this.blobRoot })) ?? true;
  }

  private async runWithLease(call: LeasedCall): Promise<Uint8Array | undefined> {
    const { lease } = call;
    let value: Uint8Array | undefined;
    try {
      value = await this.runLeased(call);
    } catch (err) {
      // Every failure, abort included, releases the lease: the next caller need not wait for expiry.
      await lease.release();
      throw err;
    }
    // With the result stored the lease no longer guards anything: release it off the caller's
    // path (the pending write keeps the process alive until it is done).
    if (value) void lease.release();
    else await lease.release();
    return value;
  }

  private async runLeased(call: LeasedCall): Promise<Uint8Array | undefined> {
    const { spec, store, memoUri, parts, chunks, lease, signal, slotHeld } = call;
    const writerId = lease.writerId;
    // Someone may have finished and released between our first look and our acquisition
    // (impossible when we created the lease: every result is written under one).
    if (lease.generation > 1 || staleResults.has(memoUri)) {
      // With rerunErrors: false the error stored by the previous holder is the outcome too.
      const done = await this.readOutcome(store, memoUri, this.rerunErrors ? undefined : '*');
      if (done) return done;
    }
    // Holding the lease: a stale result is replaced by this run (results are otherwise write-once).
    if (staleResults.delete(memoUri)) await store.delete(memoFile.result(memoUri));
    // One copy of the arguments, however large: the bytes written, whose view the in-process run decodes.
    const { bytes: invocationBytes, record: invocation } = encodeInvocationOfChunks(
      {
        format: KEY_FORMAT_VERSION,
        memo: parts,
        functionId: spec.functionId,
        moduleId: spec.moduleId,
        runtimeModule: spec.runtimeModule,
        invokedAt: new Date().toISOString(),
        invokedBy: invokedBy(),
        writerId,
        codeRoot: lookupFunction(spec.functionId)?.location.codeRoot,
      },
      chunks,
    );
    // On a miss only (a hit never uploads): make the arguments readable where the shim runs them.
    const shipped = shipArguments(argumentsOf.get(chunks) ?? [], {
      memoUri,
      memo: parts,
      inProcess: runsInProcess(this.shim),
    });
    if (shipped) await shipped;
    // The shim stops its work when the callers give up or the lease is lost. The signal is made
    // only if the shim asks for it (samethread does not; each costs tens of µs on Node 20).
    // In-process, nested calls of an abortable computation belong to it: they abort with it.
    let linked: LinkedSignal | undefined;
    const shimSignal = () => (linked ??= linkSignals(signal, lease.lostSignal)).signal!;
    const request = shimRequest(memoUri, writerId);
    const ctx: ShimContext = {
      memoUri,
      functionId: spec.functionId,
      slotHeld,
      get signal() {
        return shimSignal();
      },
    };
    const run = signal
      ? () => withComputationSignal(shimSignal(), () => this.shim(request, ctx))
      : () => this.shim(request, ctx);
    offerInvocation(memoUri, invocation);
    try {
      const written = store.put(memoFile.invocation(memoUri), invocationBytes);
      // A remote reads the invocation from storage, so it must be there first; in-process it is handed over.
      if (runsInProcess(this.shim)) {
        // Settle both before the lease can be released, then report the first failure. An
        // in-process function cannot be stopped: on abort the caller stops waiting for it, and the
        // released lease fences whatever it would write.
        const settled = Promise.allSettled([written, run()]);
        const [put, ran] = await untilAborted(settled, signal, memoUri).catch((err: unknown) => {
          abandonOutcome(memoUri, writerId);
          throw err;
        });
        if (put.status === 'rejected') throw put.reason;
        if (ran.status === 'rejected') throw ran.reason;
      } else {
        await written;
        try {
          await run();
        } catch (err) {
          if (lease.isLost) return undefined; // stopped because another writer holds the lease now
          if (signal?.aborted) throw abortErrorOf(signal, memoUri);
          throw err;
        }
      }
    } finally {
      withdrawInvocation(memoUri, writerId);
      linked?.dispose();
    }
    throwIfAborted(signal, memoUri);
    const local = takeOutcome(memoUri, writerId);
    if (local?.kind === 'result') return local.value;
    if (local?.kind === 'error') throw local.error;
    if (local?.kind === 'lease-lost') return undefined;
    const outcome = await this.readOutcome(store, memoUri, writerId);
    if (outcome) return outcome;
    // A remote that found another writer on the lease (exit 47) ran nothing: wait for that writer.
    if (!(await lease.stillHeld())) return undefined;
    throw new NoResultError(memoUri);
  }
}

/** The user's module making the current call (the first frame outside memocall), for messages. */
function callingModule(): string | undefined {
  const frame = callerFrame();
  return frame ? originalSourceFile(frame.file) : undefined;
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new ConfigurationError(`${name} must be a positive number of milliseconds, got ${value}`);
  return value;
}
