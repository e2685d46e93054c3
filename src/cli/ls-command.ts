import type { BlobStore } from '../blobstore/blob-store.js';
import { lookupBlobStore } from '../blobstore/registry.js';
import { decodeErrorRecord } from '../protocol/error-record.js';
import { decodeInvocation } from '../protocol/invocation-record.js';
import { memoFile } from '../protocol/memo-uri.js';
import { formatBytes } from '../cache/progress.js';
import { listForPeople, memosOf, type MemoFileKind } from './listing.js';
import { formatAge, type Output } from './output.js';
import { decodeLeaseRecord, describeLease, readRecord } from './stored-records.js';

/** What `ls` says of one memo URI. */
export interface MemoListing {
  memoUri: string;
  /** `result`, `error`, `running` (a lease is held), or `invocation only` (asked, never finished). */
  status: 'result' | 'error' | 'running' | 'invocation only';
  functionId: string | null;
  pipelineId: string | null;
  logicKey: string | null;
  /** When the status was reached: the result or error written, else the call made. */
  at: string | null;
  /** Bytes of the result or error record. */
  size: number | null;
  runs: number;
}

/**
 * `memocall ls <uri-prefix> [--json]`: one line per memo URI under the prefix, as the listing
 * arrives (`| head` ends it early). `--json` prints one JSON object per line.
 */
export async function lsCommand(prefix: string, opts: { json?: boolean }, output: Output): Promise<number> {
  let skipped = 0;
  const onSkipped = (dir: string, err: Error) => {
    skipped++;
    output.warn('ls', `skipped ${dir}: ${(err as NodeJS.ErrnoException).code ?? err.message}`);
  };
  const store = lookupBlobStore(prefix);
  let count = 0;
  for await (const { memoUri, files } of memosOf(listForPeople(prefix, onSkipped))) {
    const listing = await describeMemo(store, memoUri, files, (problem) => {
      skipped++;
      output.warn('ls', `skipped ${problem}`);
    });
    if (!listing) continue;
    count++;
    if (opts.json) await output.line(JSON.stringify(listing));
    else {
      const fn =
        listing.functionId === null ? '?' : `${listing.functionId}${listing.logicKey ? `@${listing.logicKey}` : ''}`;
      const age = listing.at === null ? '-' : formatAge(new Date(listing.at));
      const size = listing.size === null ? '-' : formatBytes(listing.size);
      // Fixed widths, so lines line up while they stream.
      await output.line(
        `${listing.status.padEnd(15)}  ${fn.padEnd(24)}  ${age.padStart(6)}  ${size.padStart(9)}  ${memoUri}`,
      );
    }
  }
  if (count === 0 && !opts.json) output.warn('ls', `no memo URIs under ${prefix}`);
  return skipped ? 1 : 0;
}

async function describeMemo(
  store: BlobStore,
  memoUri: string,
  files: Map<MemoFileKind, string[]>,
  onProblem: (problem: string) => void,
): Promise<MemoListing | undefined> {
  if (!files.has('invocation') && !files.has('result') && !files.has('error')) return undefined;
  const listing: MemoListing = {
    memoUri,
    status: 'invocation only',
    functionId: null,
    pipelineId: null,
    logicKey: null,
    at: null,
    size: null,
    runs: files.get('meta')?.length ?? 0,
  };
  if (files.has('invocation')) {
    const read = await readRecord(store, memoFile.invocation(memoUri), decodeInvocation);
    if (read && 'problem' in read) onProblem(read.problem);
    else if (read) {
      const inv = read.value;
      listing.functionId = typeof inv.functionId === 'string' ? inv.functionId : null;
      listing.pipelineId = typeof inv.memo?.pipelineId === 'string' ? inv.memo.pipelineId : null;
      listing.logicKey = typeof inv.memo?.logicKey === 'string' ? inv.memo.logicKey : null;
      listing.at = typeof inv.invokedAt === 'string' ? inv.invokedAt : null;
    }
  }
  const outcome = files.has('result') ? 'result' : files.has('error') ? 'error' : undefined;
  if (outcome) {
    const uri = outcome === 'result' ? memoFile.result(memoUri) : memoFile.error(memoUri);
    const head = await store.head(uri);
    listing.status = outcome;
    if (head) {
      listing.size = head.size;
      listing.at = head.lastModified.toISOString();
    }
    if (listing.functionId === null && outcome === 'error') {
      const read = await readRecord(store, uri, decodeErrorRecord);
      if (read && 'value' in read && typeof read.value.functionId === 'string')
        listing.functionId = read.value.functionId;
    }
  } else if (files.has('lease')) {
    const read = await readRecord(store, memoFile.lease(memoUri), decodeLeaseRecord);
    if (read && 'problem' in read) onProblem(read.problem);
    else if (read && describeLease(read.value).state === 'held') listing.status = 'running';
  }
  return listing;
}
