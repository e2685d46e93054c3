import { lookupBlobStore } from '../blobstore/registry.js';
import { decodeInvocation } from '../protocol/invocation-record.js';
import { listForPeople, memoFileOf } from './listing.js';
import { type Output, table } from './output.js';
import { decodeRunMetadata, readRecord } from './stored-records.js';

/** One row of `summarize`: the runs of one function version in one pipeline. */
export interface SummaryRow {
  pipelineId: string;
  functionId: string;
  logicKey: string | null;
  runs: number;
  errors: number;
  lostRaces: number;
  leaseLost: number;
  internalErrors: number;
  meanMs: number;
  maxMs: number;
}

/**
 * `memocall summarize <uri-prefix> [--json]`: the run records (`meta/*.json`) under the prefix,
 * grouped by pipeline, function and logic key. A record that does not decode is reported and
 * skipped; the rest is still summarized.
 */
export async function summarizeCommand(prefix: string, opts: { json?: boolean }, output: Output): Promise<number> {
  let skipped = 0;
  const skip = (what: string) => {
    skipped++;
    output.warn('summarize', `skipped ${what}`);
  };
  const store = lookupBlobStore(prefix);
  // A memo's `invocation` lists before its `meta/` records: it gives their logic key.
  const logicKeys = new Map<string, string | null>();
  const rows = new Map<string, SummaryRow & { totalMs: number }>();
  for await (const uri of listForPeople(prefix, (dir, err) =>
    skip(`${dir}: ${(err as NodeJS.ErrnoException).code ?? err.message}`),
  )) {
    const file = memoFileOf(uri);
    if (file?.kind === 'invocation') {
      const read = await readRecord(store, uri, decodeInvocation);
      if (read && 'value' in read) {
        const logicKey = read.value.memo?.logicKey;
        logicKeys.set(file.memoUri, typeof logicKey === 'string' && logicKey ? logicKey : null);
      }
      continue;
    }
    if (file?.kind !== 'meta') continue;
    const read = await readRecord(store, uri, decodeRunMetadata);
    if (read === null) continue;
    if ('problem' in read) {
      skip(read.problem);
      continue;
    }
    const meta = read.value;
    const logicKey = logicKeys.get(file.memoUri) ?? null;
    const key = JSON.stringify([meta.pipelineId, meta.functionId, logicKey]);
    let row = rows.get(key);
    if (!row) {
      row = {
        pipelineId: meta.pipelineId,
        functionId: meta.functionId,
        logicKey,
        runs: 0,
        errors: 0,
        lostRaces: 0,
        leaseLost: 0,
        internalErrors: 0,
        meanMs: 0,
        maxMs: 0,
        totalMs: 0,
      };
      rows.set(key, row);
    }
    row.runs++;
    if (meta.outcome === 'error') row.errors++;
    if (meta.outcome === 'lost-race') row.lostRaces++;
    if (meta.outcome === 'lease-lost') row.leaseLost++;
    if (meta.outcome === 'internal-error') row.internalErrors++;
    row.totalMs += meta.durationMs;
    row.maxMs = Math.max(row.maxMs, meta.durationMs);
  }
  const sorted: SummaryRow[] = [...rows.values()]
    .map(({ totalMs, ...row }) => ({ ...row, meanMs: Math.round((totalMs / row.runs) * 10) / 10 }))
    .sort(
      (a, b) =>
        a.pipelineId.localeCompare(b.pipelineId) ||
        a.functionId.localeCompare(b.functionId) ||
        (a.logicKey ?? '').localeCompare(b.logicKey ?? ''),
    );
  if (opts.json) {
    await output.json(sorted);
  } else if (sorted.length === 0) {
    await output.line(`no runs recorded under ${prefix}`);
  } else {
    const header = [
      'PIPELINE',
      'FUNCTION',
      'LOGIC KEY',
      'RUNS',
      'ERRORS',
      'LOST RACES',
      'LEASE LOST',
      'INTERNAL',
      'MEAN',
      'MAX',
    ];
    const cells = sorted.map((r) => [
      r.pipelineId,
      r.functionId,
      r.logicKey ?? '-',
      String(r.runs),
      String(r.errors),
      String(r.lostRaces),
      String(r.leaseLost),
      String(r.internalErrors),
      `${r.meanMs.toFixed(1)} ms`,
      `${r.maxMs} ms`,
    ]);
    for (const line of table([header, ...cells])) await output.line(line);
  }
  return skipped ? 1 : 0;
}
