import { inspect } from 'node:util';
import { lookupBlobStore } from '../blobstore/registry.js';
import { decodeCanonical } from '../core/canonical-decode.js';
import { decodeErrorRecord } from '../protocol/error-record.js';
import { decodeInvocation } from '../protocol/invocation-record.js';
import { memoFile } from '../protocol/memo-uri.js';
import { decodeResultRecord } from '../protocol/result-record.js';
import { forInspect, forJson } from './display-value.js';
import type { Output } from './output.js';
import { decodeLeaseRecord, decodeRunMetadata, describeLease, readRecord, type Read } from './stored-records.js';
import { UsageError } from './usage-error.js';

/**
 * `memocall inspect <memo-uri> [--json]`: everything stored under one memo URI, decoded. A
 * record that does not decode is reported (stderr, and `problems` in the output) and the rest
 * is still shown.
 */
export async function inspectCommand(memoUri: string, opts: { json?: boolean }, output: Output): Promise<number> {
  const store = lookupBlobStore(memoUri);
  const problems: string[] = [];
  const use = <T>(read: Read<T> | null): T | undefined => {
    if (read === null) return undefined;
    if ('problem' in read) {
      problems.push(read.problem);
      return undefined;
    }
    return read.value;
  };
  const decodeValue = (bytes: Uint8Array, what: string): unknown => {
    try {
      return decodeCanonical(bytes);
    } catch (err) {
      problems.push(`${memoUri}: ${what} cannot be decoded (${(err as Error).message})`);
      return undefined;
    }
  };

  const [invocationRead, resultRead, errorRead, leaseRead] = await Promise.all([
    readRecord(store, memoFile.invocation(memoUri), decodeInvocation),
    readRecord(store, memoFile.result(memoUri), decodeResultRecord),
    readRecord(store, memoFile.error(memoUri), decodeErrorRecord),
    readRecord(store, memoFile.lease(memoUri), decodeLeaseRecord),
  ]);
  if (!invocationRead && !resultRead && !errorRead && !leaseRead)
    throw new UsageError(`nothing is stored at ${memoUri}`);

  const shown: Record<string, unknown> = { memoUri };
  const invocation = use(invocationRead);
  if (invocation) {
    const { args, memo, functionId, ...rest } = invocation;
    shown.invocation = withoutUndefined({
      functionId,
      pipelineId: memo?.pipelineId,
      logicKey: memo?.logicKey,
      argsKey: memo?.argsKey,
      ...rest,
      args: args instanceof Uint8Array ? decodeValue(args, 'the arguments') : undefined,
    });
  }
  const result = use(resultRead);
  if (result) {
    const { value, ...rest } = result;
    shown.result = { ...rest, value: value instanceof Uint8Array ? decodeValue(value, 'the result value') : undefined };
  }
  const error = use(errorRead);
  if (error) shown.error = error;
  const lease = use(leaseRead);
  shown.lease = lease ? describeLease(lease) : null;

  const runs: unknown[] = [];
  for await (const uri of store.list(`${memoUri}/meta/`)) {
    const meta = use(await readRecord(store, uri, decodeRunMetadata));
    if (meta) runs.push(meta);
  }
  shown.runs = runs;
  if (problems.length) shown.problems = problems;
  for (const problem of problems) output.warn('inspect', `skipped ${problem}`);

  if (opts.json) await output.json(forJson(shown));
  else
    await output.line(
      inspect(forInspect(shown), { depth: 8, colors: process.stdout.isTTY, maxArrayLength: 50, maxStringLength: 2000 }),
    );
  return problems.length ? 1 : 0;
}

function withoutUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}
