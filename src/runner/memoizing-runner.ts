import { setTimeout as sleep } from 'node:timers/promises';
import { argsKey } from '../core/args-key.js';
import type { BlobStore } from '../blobstore/blob-store.js';
import { BlobNotFoundError } from '../blobstore/errors.js';
import { lookupBlobStore } from '../blobstore/registry.js';
import { DEFAULT_BLOB_ROOT, normalizeBlobRoot } from './blob-root.js';
import { ConfigurationError, NoResultError, RemoteError } from './errors.js';
import { decodeErrorRecord } from './error-record.js';
import { validateId } from './function-identity.js';
import { isRunningAbove } from './invocation-context.js';
import { encodeInvocation, type InvocationRecord } from './invocation-record.js';
import { tryAcquireLease, type HeldLease } from './lease.js';
import { functionMemospace, memoFile, type MemoUriParts } from './memo-uri.js';
import { maskedPipelineId } from './pipeline-id-mask.js';
import { decodeResultRecord } from './result-record.js';
import { processResultCache } from './result-cache.js';
import { invokedBy } from './run-metadata.js';
import { newWriterId } from './run-id.js';
import { offerInvocation, takeOutcome, withdrawInvocation } from './same-process-handoff.js';
import { samethread } from './samethread.js';
import type { Shim } from './shim.js';
import { concatChunks } from '../core/concat-chunks.js';

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

/** One encoded value per memo URI, shared by identical concurrent calls of this process. */
const inFlight = new Map<string, Promise<Uint8Array>>();

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
  /** Per function, per pipeline id: the memo URI up to the arguments key. */
  private readonly memospaces = new WeakMap<FunctionSpec, Map<string, string>>();
  private storeInstance: BlobStore | undefined;

  constructor(options: MemoizingRunnerOptions = {}) {
    this.blobRoot = normalizeBlobRoot(options.blobRoot ?? DEFAULT_BLOB_ROOT);
    this.pipelineId = options.pipelineId ?? 'default';
    validateId(this.pipelineId, 'pipelineId');
    this.shim = options.shim ?? samethread();
    this.rerunErrors = options.rerunErrors ?? true;
    this.leaseTtlMs = positive(options.leaseTtlMs ?? 90_000, 'leaseTtlMs');
    this.leaseRefreshMs = options.leaseRefreshMs === undefined ? undefined : positive(options.leaseRefreshMs, 'leaseRefreshMs');
    this.waitInitialMs = positive(options.waitInitialMs ?? 1_000, 'waitInitialMs');
    this.waitMaxMs = positive(options.waitMaxMs ?? 20_000, 'waitMaxMs');
  }

  /** The store of this runner's blob root (looked up once). */
  get store(): BlobStore {
    return (this.storeInstance ??= lookupBlobStore(this.blobRoot));
  }

  /** Where a call with these arguments is (or would be) stored. Throws SerializationError for bad args. */
  memoUriOf(spec: FunctionSpec, args: readonly unknown[]): { memoUri: string; parts: MemoUriParts; chunks: Uint8Array[] } {
    const pipelineId = maskedPipelineId() ?? this.pipelineId;
    const { key, chunks } = argsKey(args);
    const memospace = this.memospaceOf(spec, pipelineId);
    const parts: MemoUriParts = {
      blobRoot: this.blobRoot,
      pipelineId,
      functionId: spec.functionId,
      logicKey: spec.logicKey,
      callsSegment: spec.callsSegment(),
      argsKey: key,
    };
    return { memoUri: `${memospace}/${key}`, parts, chunks };
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

  /** The encoded result of `spec(...args)`, from memory, storage, or by running it. */
  async call(spec: FunctionSpec, args: readonly unknown[]): Promise<Uint8Array> {
    const { memoUri, parts, chunks } = this.memoUriOf(spec, args);
    const cached = processResultCache.get(memoUri);
    if (cached) return cached;
    const running = inFlight.get(memoUri);
    if (running) {
      if (isRunningAbove(memoUri)) {
        throw new ConfigurationError(`${spec.functionId} called itself with the same arguments (${memoUri}): that would wait for itself forever`);
      }
      return running;
    }
    const resolution = this.resolve(spec, memoUri, parts, chunks).finally(() => inFlight.delete(memoUri));
    inFlight.set(memoUri, resolution);
    return resolution;
  }

  private async resolve(spec: FunctionSpec, memoUri: string, parts: MemoUriParts, chunks: Uint8Array[]): Promise<Uint8Array> {
    const store = this.store;
    const stored = await this.readOutcome(store, memoUri, this.rerunErrors ? undefined : '*');
    if (stored) return stored;

    let delay = this.waitInitialMs;
    for (;;) {
      const writerId = newWriterId();
      const attempt = await tryAcquireLease(store, memoFile.lease(memoUri), writerId, { ttlMs: this.leaseTtlMs, refreshMs: this.leaseRefreshMs });
      if (attempt.acquired) {
        const value = await this.runWithLease(spec, store, memoUri, parts, chunks, attempt.lease);
        if (value) return value;
        // Our lease was taken over while running: the new holder's outcome is the one to wait for.
      } else {
        await sleep(delay);
        delay = Math.min(delay * 2, this.waitMaxMs);
        // A holder that failed wrote `error` under its writer id: that outcome is ours too.
        const outcome = await this.readOutcome(store, memoUri, this.rerunErrors ? attempt.holder.writerId : '*');
        if (outcome) return outcome;
      }
    }
  }

  /**
   * `result` if stored; else the stored error is thrown when `acceptErrorFrom` is `'*'` or names
   * the writer that wrote it; else undefined.
   */
  private async readOutcome(store: BlobStore, memoUri: string, acceptErrorFrom: string | undefined): Promise<Uint8Array | undefined> {
    try {
      const record = decodeResultRecord(await store.get(memoFile.result(memoUri)));
      processResultCache.set(memoUri, record.value);
      return record.value;
    } catch (err) {
      if (!(err instanceof BlobNotFoundError)) throw err;
    }
    if (acceptErrorFrom === undefined) return undefined;
    let bytes: Uint8Array;
    try {
      bytes = await store.get(memoFile.error(memoUri));
    } catch (err) {
      if (err instanceof BlobNotFoundError) return undefined;
      throw err;
    }
    const record = decodeErrorRecord(bytes);
    if (acceptErrorFrom === '*' || record.writerId === acceptErrorFrom) throw new RemoteError(record.error, memoUri);
    return undefined;
  }

  private async runWithLease(
    spec: FunctionSpec,
    store: BlobStore,
    memoUri: string,
    parts: MemoUriParts,
    chunks: Uint8Array[],
    lease: HeldLease,
  ): Promise<Uint8Array | undefined> {
    const writerId = lease.writerId;
    try {
      // Someone may have finished and released between our first look and our acquisition.
      const done = await this.readOutcome(store, memoUri, undefined);
      if (done) return done;
      const invocation: InvocationRecord = {
        format: 'memocall-v1',
        memo: parts,
        functionId: spec.functionId,
        moduleId: spec.moduleId,
        runtimeModule: spec.runtimeModule,
        args: concatChunks(chunks),
        invokedAt: new Date().toISOString(),
        invokedBy: invokedBy(),
        writerId,
      };
      offerInvocation(memoUri, invocation);
      try {
        await store.put(memoFile.invocation(memoUri), encodeInvocation(invocation));
        await this.shim(['run', memoUri, '--writer-id', writerId], { memoUri, functionId: spec.functionId, signal: lease.lostSignal });
      } finally {
        withdrawInvocation(memoUri, writerId);
      }
      const local = takeOutcome(memoUri, writerId);
      if (local?.kind === 'result') return local.value;
      if (local?.kind === 'error') throw local.error;
      if (local?.kind === 'lease-lost') return undefined;
      const outcome = await this.readOutcome(store, memoUri, writerId);
      if (outcome) return outcome;
      if (lease.isLost) return undefined;
      throw new NoResultError(memoUri);
    } finally {
      await lease.release();
    }
  }
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new ConfigurationError(`${name} must be a positive number of milliseconds, got ${value}`);
  return value;
}
