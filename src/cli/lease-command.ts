import { lookupBlobStore } from '../blobstore/registry.js';
import { memoFile } from '../protocol/memo-uri.js';
import type { Output } from './output.js';
import { decodeLeaseRecord, describeLease, readRecord } from './stored-records.js';

/** `memocall lease <memo-uri> [--json]`: who holds the lease, until when (ISO times). */
export async function leaseCommand(memoUri: string, opts: { json?: boolean }, output: Output): Promise<number> {
  const uri = memoFile.lease(memoUri);
  const read = await readRecord(lookupBlobStore(memoUri), uri, decodeLeaseRecord);
  if (read && 'problem' in read) {
    output.warn('lease', read.problem);
    return 1;
  }
  const lease = read ? describeLease(read.value) : null;
  if (opts.json) await output.json(lease);
  else if (!lease) await output.line(`no lease at ${uri}`);
  else {
    const state =
      lease.state === 'released'
        ? `released at ${lease.releasedAt}`
        : lease.state === 'expired'
          ? `expired at ${lease.expiresAt}`
          : `held until ${lease.expiresAt} unless refreshed`;
    await output.line(
      `writer ${lease.writerId} (generation ${lease.generation}) on ${lease.hostname} pid ${lease.pid}: ${state}`,
    );
  }
  return 0;
}
