import { parseArgs, inspect as show, type ParseArgsConfig } from 'node:util';
import { lookupBlobStore } from '../blobstore/registry.js';
import { BlobNotFoundError } from '../blobstore/errors.js';
import { decodeCanonical } from '../core/canonical-decode.js';
import { decodeErrorRecord } from '../protocol/error-record.js';
import { decodeInvocation } from '../protocol/invocation-record.js';
import { isLeaseFree, readLease } from '../execute/lease.js';
import { memoFile } from '../protocol/memo-uri.js';
import { decodeResultRecord } from '../protocol/result-record.js';
import { RUN_EXIT } from '../protocol/run-request.js';
import { runCommand, RUN_USAGE } from './run-command.js';
import '../setup.js';
import { UsageError } from './usage-error.js';
import { CACHE_USAGE, cacheCommand } from './cache-command.js';

const USAGE = `memocall <command>

${RUN_USAGE}  inspect <memo-uri>                arguments, result or error, lease and runs, readable
  lease <memo-uri>                  who holds the lease, until when
  ls <uri-prefix>                   memo URIs under a prefix
  summarize <uri-prefix>            per function: runs, errors, lost races, durations
  worker --queue <redis-url> ...    a warm worker for queue() shims (memocall worker --help)
${CACHE_USAGE}`;

const text = new TextDecoder();

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return runCommand(rest);
    case 'inspect':
      return inspectCommand(rest);
    case 'lease':
      return leaseCommand(rest);
    case 'ls':
      return lsCommand(rest);
    case 'summarize':
      return summarizeCommand(rest);
    case 'cache':
      return cacheCommand(rest);
    case 'worker': {
      // Loaded on demand: only the worker needs the queue client.
      const { workerCommand, WORKER_USAGE } = await import('./worker-command.js');
      return workerCommand(rest).catch((err: unknown) => {
        if (!(err instanceof UsageError)) throw err;
        process.stderr.write(`memocall worker: ${err.message}\n\nusage: memocall\n${WORKER_USAGE}`);
        return 2;
      });
    }
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return command ? 0 : 2;
    default:
      process.stderr.write(`memocall: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}

function onePositional(args: string[], what: string, options: NonNullable<ParseArgsConfig['options']> = {}) {
  const { positionals, values } = parseArgs({ args, options, allowPositionals: true, strict: true });
  if (positionals.length !== 1) throw new UsageError(`expected exactly one ${what}`);
  return { target: positionals[0]!, values };
}

async function getOrNull(uri: string): Promise<Uint8Array | null> {
  try {
    return await lookupBlobStore(uri).get(uri);
  } catch (err) {
    if (err instanceof BlobNotFoundError) return null;
    throw err;
  }
}

async function inspectCommand(args: string[]): Promise<number> {
  const { target } = onePositional(args, 'memo URI');
  const memoUri = target.replace(/\/+$/, '');
  const out: Record<string, unknown> = { memoUri };
  const invocation = await getOrNull(memoFile.invocation(memoUri));
  if (invocation) {
    const record = decodeInvocation(invocation);
    out.invocation = { ...record, args: decodeCanonical(record.args) };
  }
  const result = await getOrNull(memoFile.result(memoUri));
  if (result) {
    const record = decodeResultRecord(result);
    out.result = { ...record, value: decodeCanonical(record.value) };
  }
  const error = await getOrNull(memoFile.error(memoUri));
  if (error) out.error = decodeErrorRecord(error);
  out.lease = await readLease(lookupBlobStore(memoUri), memoFile.lease(memoUri)).then((l) => l?.record ?? null);
  const runs: unknown[] = [];
  for await (const uri of lookupBlobStore(memoUri).list(`${memoUri}/meta/`)) {
    const bytes = await getOrNull(uri);
    if (bytes) runs.push(JSON.parse(text.decode(bytes)));
  }
  out.runs = runs;
  if (!invocation && !result && !error) {
    process.stderr.write(`memocall: nothing is stored at ${memoUri}\n`);
    return 1;
  }
  process.stdout.write(
    `${show(out, { depth: 8, colors: process.stdout.isTTY, maxArrayLength: 50, maxStringLength: 2000 })}\n`,
  );
  return 0;
}

async function leaseCommand(args: string[]): Promise<number> {
  const { target } = onePositional(args, 'memo URI');
  const memoUri = target.replace(/\/+$/, '');
  const lease = await readLease(lookupBlobStore(memoUri), memoFile.lease(memoUri));
  if (!lease) {
    process.stdout.write(`no lease at ${memoFile.lease(memoUri)}\n`);
    return 0;
  }
  const r = lease.record;
  const state =
    r.releasedAt !== undefined
      ? `released at ${new Date(r.releasedAt).toISOString()}`
      : isLeaseFree(r)
        ? `expired at ${new Date(r.heartbeatAt + r.ttlMs).toISOString()}`
        : `held until ${new Date(r.heartbeatAt + r.ttlMs).toISOString()} unless refreshed`;
  process.stdout.write(`writer ${r.writerId} (generation ${r.generation}) on ${r.hostname} pid ${r.pid}: ${state}\n`);
  return 0;
}

async function lsCommand(args: string[]): Promise<number> {
  const { target } = onePositional(args, 'URI prefix');
  for await (const uri of lookupBlobStore(target).list(target)) {
    const m = /^(.*)\/(?:invocation)$/.exec(uri);
    if (m) process.stdout.write(`${m[1]}\n`);
  }
  return 0;
}

async function summarizeCommand(args: string[]): Promise<number> {
  const { target } = onePositional(args, 'URI prefix');
  const byFunction = new Map<
    string,
    { runs: number; errors: number; lostRaces: number; leaseLost: number; totalMs: number; maxMs: number }
  >();
  for await (const uri of lookupBlobStore(target).list(target)) {
    if (!/\/meta\/[^/]+\.json$/.test(uri)) continue;
    const bytes = await getOrNull(uri);
    if (!bytes) continue;
    const meta = JSON.parse(text.decode(bytes)) as { functionId: string; outcome: string; durationMs: number };
    const row = byFunction.get(meta.functionId) ?? {
      runs: 0,
      errors: 0,
      lostRaces: 0,
      leaseLost: 0,
      totalMs: 0,
      maxMs: 0,
    };
    row.runs++;
    if (meta.outcome === 'error') row.errors++;
    if (meta.outcome === 'lost-race') row.lostRaces++;
    if (meta.outcome === 'lease-lost') row.leaseLost++;
    row.totalMs += meta.durationMs;
    row.maxMs = Math.max(row.maxMs, meta.durationMs);
    byFunction.set(meta.functionId, row);
  }
  const rows = [...byFunction].sort(([a], [b]) => a.localeCompare(b));
  for (const [fn, r] of rows) {
    process.stdout.write(
      `${fn}\truns ${r.runs}\terrors ${r.errors}\tlost races ${r.lostRaces}\tlease lost ${r.leaseLost}\tmean ${(r.totalMs / r.runs).toFixed(1)} ms\tmax ${r.maxMs} ms\n`,
    );
  }
  if (!rows.length) process.stdout.write(`no runs recorded under ${target}\n`);
  return 0;
}

// `run` exits as soon as its outcome is stored: timers or sockets the user's code left open must
// not keep a remote (and the shim waiting for it) alive.
const exit =
  process.argv[2] === 'run' ? (code: number) => process.exit(code) : (code: number) => void (process.exitCode = code);

main(process.argv.slice(2)).then(exit, (err: unknown) => {
  if (err instanceof UsageError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    process.stderr.write(`memocall: ${(err as Error).message}\n\n${USAGE}`);
    exit(2);
    return;
  }
  process.stderr.write(
    `memocall: internal failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  exit(RUN_EXIT.internal);
});
