/**
 * The writer id one attempt of a queued run fences with: `<writerId>#a<attempt>`.
 *
 * A queue may run one job more than once (BullMQ re-runs a job whose worker stopped renewing its
 * lock, though that worker may only be cut off from Redis and still running). Each attempt takes
 * the caller's lease over under its own id, so an earlier attempt that wakes up finds the lease
 * no longer its own and writes nothing. The caller still counts the lease as held: an attempt id
 * belongs to the writer id it extends.
 */
const ATTEMPT_MARK = '#a';

export function attemptWriterId(writerId: string, attempt: number): string {
  return `${writerId}${ATTEMPT_MARK}${attempt}`;
}

/** The caller's writer id and the attempt number of an attempt id, or undefined for a plain writer id. */
export function parseAttemptWriterId(id: string): { writerId: string; attempt: number } | undefined {
  const at = id.lastIndexOf(ATTEMPT_MARK);
  if (at <= 0) return undefined;
  const digits = id.slice(at + ATTEMPT_MARK.length);
  if (!/^[1-9]\d{0,15}$/.test(digits)) return undefined;
  return { writerId: id.slice(0, at), attempt: Number(digits) };
}

/** Whether a lease or record naming `stored` belongs to `writerId`: the same id, or one of its attempts. */
export function isWriterOrAttempt(stored: string, writerId: string): boolean {
  return stored === writerId || parseAttemptWriterId(stored)?.writerId === writerId;
}
