import { PreconditionFailedError } from '../../blobstore/errors.js';
import { lookupBlobStore } from '../../blobstore/registry.js';
import { attemptWriterId, parseAttemptWriterId } from '../../protocol/attempt-writer-id.js';
import { decodeLeaseRecord, encodeLeaseRecord } from '../../protocol/lease-record.js';
import { memoFile } from '../../protocol/memo-uri.js';
import { readVersionedRecord } from '../../protocol/read-record.js';

/** Compare-and-swap rounds lost to the caller's heartbeats before the claim gives up (it never should). */
const CLAIM_ROUNDS = 20;

/**
 * Takes the caller's lease over for attempt `attempt` of its queued job, by compare-and-swap:
 * the lease must name the caller's writer id, or an earlier attempt of it, unreleased. Returns the
 * attempt's writer id (`<writerId>#a<attempt>`), which the run is then fenced by: a run of an
 * earlier attempt (a worker cut off from Redis whose job BullMQ gave to another) finds the lease
 * no longer its own and stores nothing. When the lease is anyone else's (or gone, or a later
 * attempt's), nothing is written and the run, fenced by the returned id, ends as `lease-lost`.
 */
export async function claimLeaseForAttempt(memoUri: string, writerId: string, attempt: number): Promise<string> {
  const fenceId = attemptWriterId(writerId, attempt);
  const store = lookupBlobStore(memoUri);
  const uri = memoFile.lease(memoUri);
  for (let round = 0; round < CLAIM_ROUNDS; round++) {
    const current = await readVersionedRecord(store, uri, decodeLeaseRecord);
    if (!current?.record || current.record.releasedAt !== undefined) return fenceId;
    const holder = current.record.writerId;
    if (holder === fenceId) return fenceId;
    const earlier =
      holder === writerId || (parseAttemptWriterId(holder)?.writerId === writerId && attemptOf(holder) < attempt);
    if (!earlier) return fenceId;
    try {
      await store.put(uri, encodeLeaseRecord({ ...current.record, writerId: fenceId }), { ifMatch: current.etag });
      return fenceId;
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
      // The caller refreshed (or another attempt claimed) in between: look again.
    }
  }
  return fenceId;
}

function attemptOf(id: string): number {
  return parseAttemptWriterId(id)?.attempt ?? 0;
}
