import { parseArgs } from 'node:util';
import { UsageError } from './usage-error.js';
import { defaultDownloadCache } from '../cache/default-cache.js';
import { enforceCap, listEntries, sweep } from '../cache/eviction.js';
import { formatBytes } from '../cache/progress.js';
import { allIndexRecords } from '../cache/uri-index.js';
import { verifyCache } from '../cache/verify.js';

/** `memocall cache ls | verify | prune --max-bytes N` (cache directory: MEMOCALL_CACHE_DIR). */
export async function cacheCommand(
  args: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  try {
    return await runCache(args, out);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err.write(`memocall cache: ${(e as Error).message} (see memocall cache --help)\n`);
      return 2;
    }
    throw e;
  }
}

async function runCache(args: string[], out: NodeJS.WritableStream): Promise<number> {
  const [sub, ...rest] = args;
  const cache = defaultDownloadCache();
  cache.prepare();
  switch (sub) {
    case 'ls': {
      parseArgs({ args: rest, options: {}, strict: true });
      const uris = new Map<string, string[]>();
      for (const { record } of allIndexRecords(cache.layout))
        uris.set(record.sha256, [...(uris.get(record.sha256) ?? []), record.uri]);
      const entries = listEntries(cache.layout).sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
      for (const e of entries) {
        out.write(
          `${e.sha256}  ${formatBytes(e.size).padStart(10)}  ${e.lastUsed.toISOString()}  ${(uris.get(e.sha256) ?? []).join(' ')}\n`,
        );
      }
      const total = entries.reduce((s, e) => s + e.size, 0);
      out.write(
        `${entries.length} entries, ${formatBytes(total)} (cap ${formatBytes(cache.maxBytes)}) in ${cache.dir}\n`,
      );
      return 0;
    }
    case 'verify': {
      parseArgs({ args: rest, options: {}, strict: true });
      const report = await verifyCache(cache.layout);
      for (const bad of report.removed) out.write(`removed ${bad.sha256}: ${bad.reason}\n`);
      out.write(
        `verified ${report.checked} entries (${formatBytes(report.bytes)}): ${report.removed.length} corrupted\n`,
      );
      return report.removed.length === 0 ? 0 : 3;
    }
    case 'prune': {
      const { values } = parseArgs({ args: rest, options: { 'max-bytes': { type: 'string' } }, strict: true });
      const max = values['max-bytes'] === undefined ? cache.maxBytes : parseByteCount(values['max-bytes']);
      const swept = sweep(cache.layout);
      const report = enforceCap(cache.layout, max);
      out.write(
        `removed ${report.removed.length} entries (${formatBytes(report.bytesBefore - report.bytesAfter)}); ` +
          `${formatBytes(report.bytesAfter)} remain (max ${formatBytes(max)}); ` +
          `${swept.indexRecords} stale index records, ${swept.tempDirs} abandoned downloads, ${swept.locks} dead fill locks\n`,
      );
      return 0;
    }
    default:
      throw new UsageError(
        `cache: expected ls, verify or prune, got ${sub === undefined ? 'nothing' : JSON.stringify(sub)}`,
      );
  }
}

/** `1000`, `512M`, `2G`, `1.5GiB` → bytes. */
export function parseByteCount(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(text);
  if (!m) throw new UsageError(`--max-bytes: expected a byte count like 1000, 512M or 2G, got ${JSON.stringify(text)}`);
  const power = ' KMGT'.indexOf((m[2] ?? '').toUpperCase() || ' ');
  return Math.floor(Number(m[1]) * 1024 ** power);
}
