import { setTimeout as sleep } from 'node:timers/promises';
import { debuglog } from 'node:util';
import pRetry from 'p-retry';
import { MemocallError } from '../../core/memocall-error.js';
import { BlobNotFoundError, PreconditionFailedError, UnsupportedUriError } from '../errors.js';

/**
 * The one retry policy of the cloud stores. The SDKs' own retries are switched off (S3
 * `maxAttempts: 1`, Azure `maxTries: 1`) so that this file alone decides what is retried, how
 * long we keep trying, and every retry is logged exactly once (`NODE_DEBUG=memocall`).
 */

const log = debuglog('memocall');

export interface RetryOptions {
  /** Retries after the first attempt. Default 8. */
  retries?: number;
  /** Delay before the first retry; each next one doubles, times a random factor in [1, 2). Default 200 ms. */
  minDelayMs?: number;
  /** Cap of one delay. Default 5_000 ms. */
  maxDelayMs?: number;
  /**
   * Total time of all attempts of one operation. No retry starts after it; the last error is
   * thrown. Default 120_000 ms: long enough for a throttling burst, short enough that a dead
   * endpoint surfaces as an error rather than a hang.
   */
  maxTotalMs?: number;
  /** Called once per retry, next to the debug log line (metrics, tests). Default none. */
  onRetry?: (event: RetryEvent) => void;
}

export interface RetryEvent {
  /** The operation, e.g. "s3 put s3://bucket/key". */
  what: string;
  /** The attempt that failed (1 = the first). */
  attempt: number;
  error: unknown;
  /** The pause before the next attempt, in ms (backoff with jitter, cut to the time left). */
  delayMs: number;
}

export const DEFAULT_RETRY_OPTIONS: Required<Omit<RetryOptions, 'onRetry'>> = {
  retries: 8,
  minDelayMs: 200,
  maxDelayMs: 5_000,
  maxTotalMs: 120_000,
};

/**
 * Thrown by a store to mark a failure as worth another attempt although nothing in the error
 * itself says so (a stalled connection we cut, an object replaced between two ranged reads).
 */
export class TransientError extends MemocallError {
  constructor(message: string, options?: { cause?: unknown }, code = 'MEMOCALL_TRANSIENT') {
    super(code, message, options);
  }
}

/** A request or body made no progress for the configured stall timeout; we cut it. */
export class StallTimeoutError extends TransientError {
  constructor(what: string, ms: number) {
    super(`${what}: no progress for ${ms} ms`, undefined, 'MEMOCALL_STALLED');
  }
}

/**
 * Node / undici / SDK error codes of failures in transport: the request may or may not have
 * reached the server, and trying again is the right answer.
 */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND', // DNS hiccups; a wrong host name still fails after the bounded total time
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'REQUEST_SEND_ERROR', // Azure core: the request could not be sent
  'HPE_INVALID_CONSTANT', // a reset in the middle of a response's header bytes
  'HPE_INVALID_CHUNK_SIZE',
  'HPE_UNEXPECTED_CONTENT_LENGTH',
  // Service error codes (S3 `name`/`Code`, Azure `code`) that mean "slow down" or "try again".
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequests',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'ServerBusy',
  'OperationTimedOut',
  'TimeoutError',
]);

/** Messages (lower-cased substrings) Node gives transport failures that carry no code. */
const TRANSIENT_MESSAGES = ['socket hang up', 'premature close', 'other side closed'];
/** Whole messages of Node's http "response cut" errors; as substrings they would match user aborts. */
const TRANSIENT_WHOLE_MESSAGES = new Set(['aborted', 'terminated']);

export type FailureKind = 'transient' | 'permanent';

/**
 * Transient: connection resets, timeouts and stalls, 408, 429, every 5xx, throttling codes.
 * Permanent: our own outcome errors (not found, precondition failed, unsupported URI, integrity),
 * every other 4xx (400, 403, 404, 409, 412, 416...), and anything we cannot recognise: retrying
 * a bug only delays its report.
 */
export function classifyFailure(error: unknown): FailureKind {
  if (error instanceof TransientError) return 'transient';
  if (
    error instanceof BlobNotFoundError ||
    error instanceof PreconditionFailedError ||
    error instanceof UnsupportedUriError ||
    error instanceof MemocallError
  ) {
    return 'permanent';
  }
  // Walk the cause chain: SDKs wrap socket errors (Azure RestError{code}, smithy TimeoutError...).
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current !== null && typeof current === 'object'; depth++) {
    const e = current as {
      code?: unknown;
      name?: unknown;
      Code?: unknown;
      message?: unknown;
      statusCode?: unknown;
      status?: unknown;
      $metadata?: { httpStatusCode?: unknown };
      $retryable?: unknown;
      cause?: unknown;
    };
    // The service's error code first: S3 sends RequestTimeout with a 400.
    for (const tag of [e.code, e.name, e.Code]) {
      if (typeof tag === 'string' && TRANSIENT_CODES.has(tag)) return 'transient';
    }
    const status = numberOrUndefined(e.$metadata?.httpStatusCode) ?? numberOrUndefined(e.statusCode);
    if (status !== undefined) {
      if (status === 408 || status === 429 || status >= 500) return 'transient';
      // A 2xx with an error: the headers arrived and the body was cut or unparsable.
      if (status >= 200 && status < 300) return 'transient';
      if (status >= 400) return 'permanent';
    }
    if (e.$retryable !== undefined && e.$retryable !== null) return 'transient';
    if (typeof e.message === 'string') {
      const message = e.message.toLowerCase();
      if (TRANSIENT_WHOLE_MESSAGES.has(message)) return 'transient';
      if (TRANSIENT_MESSAGES.some((m) => message.includes(m))) return 'transient';
    }
    current = e.cause;
  }
  return 'permanent';
}

function numberOrUndefined(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
}

/** One line for the debug log: what kind of failure, without dumping SDK internals. */
export function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const e = error as Error & { code?: unknown; statusCode?: unknown; $metadata?: { httpStatusCode?: unknown } };
  const status = e.$metadata?.httpStatusCode ?? e.statusCode;
  const parts = [e.name];
  if (typeof e.code === 'string') parts.push(e.code);
  if (status !== undefined) parts.push(`HTTP ${String(status)}`);
  return `${parts.join(' ')}: ${e.message.split('\n')[0] ?? ''}`;
}

export interface WithRetriesOptions extends RetryOptions {
  /** Aborts waiting between attempts (the attempt itself must watch it too). */
  signal?: AbortSignal;
  /**
   * Overrides the classification for this operation; `undefined` falls back to
   * `classifyFailure`. Used e.g. to give an integrity mismatch exactly one more read.
   */
  classify?: (error: unknown, attempt: number) => FailureKind | undefined;
}

/**
 * Runs `operation` until it succeeds, a permanent failure occurs, the retries are used up or the
 * total time is spent. `what` names the operation in the debug log ("s3 put s3://b/k").
 */
export async function withRetries<T>(
  what: string,
  operation: (attempt: number) => Promise<T>,
  options: WithRetriesOptions = {},
): Promise<T> {
  const o = { ...DEFAULT_RETRY_OPTIONS, ...definedOnly(options) };
  const started = performance.now();
  const { signal } = options;
  return pRetry(operation, {
    retries: o.retries,
    // p-retry counts attempts and the total time; the pause is chosen and waited for here, so
    // that it can be reported (onRetry's delayMs) and tests check the delays asked for.
    minTimeout: 0,
    maxTimeout: 0,
    maxRetryTime: o.maxTotalMs,
    ...(signal ? { signal } : {}),
    shouldRetry: async ({ error, attemptNumber, retriesLeft }) => {
      const kind = options.classify?.(error, attemptNumber) ?? classifyFailure(error);
      if (kind !== 'transient') return false;
      const delayMs = backoffDelayMs(attemptNumber, o, o.maxTotalMs - (performance.now() - started));
      // shouldRetry is only asked when a retry will really follow: log it here, once.
      log(
        'retry %d/%d of %s after: %s (in %d ms)',
        attemptNumber,
        attemptNumber + retriesLeft,
        what,
        describeFailure(error),
        delayMs,
      );
      options.onRetry?.({ what, attempt: attemptNumber, error, delayMs });
      // Not unref'd: a process whose only pending work is this retry must wait for it, not exit.
      await sleep(delayMs, undefined, signal ? { signal } : undefined).catch((err: unknown) => {
        throw signal?.aborted ? signal.reason : err;
      });
      return true;
    },
  });
}

/**
 * The pause after failed attempt `attempt` (1 = the first): `minDelayMs` doubling per attempt,
 * times a random factor in [1, 2) (jitter: clients that failed together do not retry together),
 * at most `maxDelayMs`, and never past the time left of the total budget.
 */
export function backoffDelayMs(
  attempt: number,
  o: Pick<Required<RetryOptions>, 'minDelayMs' | 'maxDelayMs'>,
  timeLeftMs: number,
): number {
  const backoff = Math.min(Math.round((1 + Math.random()) * o.minDelayMs * 2 ** (attempt - 1)), o.maxDelayMs);
  return Math.max(0, Math.min(backoff, Math.floor(timeLeftMs)));
}

function definedOnly(options: RetryOptions): Omit<RetryOptions, 'onRetry'> {
  const out: Record<string, number> = {};
  for (const key of ['retries', 'minDelayMs', 'maxDelayMs', 'maxTotalMs'] as const) {
    const value = options[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/**
 * Cuts one attempt that stops making progress: `signal` aborts when `kick()` has not been called
 * for `ms`. Streams passed to `watch` kick it on every chunk. The SDKs' own timeouts are either
 * total (too short for a large body, too long for a stall) or absent; this is the idle kind.
 */
export class StallWatchdog {
  readonly #controller = new AbortController();
  readonly #ms: number;
  readonly #what: string;
  #timer: NodeJS.Timeout | undefined;
  #fired = false;

  constructor(what: string, ms: number, parent?: AbortSignal) {
    this.#ms = ms;
    this.#what = what;
    if (parent) {
      if (parent.aborted) this.#controller.abort(parent.reason);
      else parent.addEventListener('abort', () => this.#controller.abort(parent.reason), { once: true });
    }
    this.kick();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** True once the watchdog (not a caller's signal) aborted the attempt. */
  get fired(): boolean {
    return this.#fired;
  }

  kick(): void {
    if (this.#fired || this.#controller.signal.aborted) return;
    if (this.#timer) this.#timer.refresh();
    else {
      this.#timer = setTimeout(() => {
        this.#fired = true;
        this.#controller.abort(new StallTimeoutError(this.#what, this.#ms));
      }, this.#ms);
      this.#timer.unref();
    }
  }

  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** The error to throw for `error` caught during the attempt: ours when we cut it. */
  translate(error: unknown): unknown {
    return this.#fired ? Object.assign(new StallTimeoutError(this.#what, this.#ms), { cause: error }) : error;
  }
}

/**
 * Re-yields a response body. The status line was a success, so any failure while the bytes
 * stream (reset, truncation, an SDK's own "less data than expected") is a transport failure:
 * it becomes a `TransientError`, or the watchdog's `StallTimeoutError` when it cut the body.
 * Every chunk counts as progress for the watchdog.
 */
export async function* transientBody(
  body: AsyncIterable<Uint8Array>,
  what: string,
  watchdog?: StallWatchdog,
): AsyncIterable<Uint8Array> {
  try {
    for await (const chunk of body) {
      watchdog?.kick();
      yield chunk;
    }
  } catch (error) {
    const translated = watchdog ? watchdog.translate(error) : error;
    if (translated instanceof TransientError) throw translated;
    throw new TransientError(`${what}: response body failed: ${describeFailure(error)}`, { cause: error });
  }
}
