import fs from 'node:fs';
import path from 'node:path';
import type { CacheLayout } from './cache-layout.js';
import { isSha256Hex } from './cache-layout.js';
import { ensurePrivateDir, readOwnTextOrRemove, writeOwnFileAtomically } from './private-files.js';

/**
 * The cache's index: which content a URI held at one version (the store's etag). One small JSON
 * file per URI, replaced atomically when a newer version is fetched. A record only says "this
 * version had these bytes": it is used after a `head` of the URI shows the same etag, so a
 * rewritten object (new etag) is never served from an old record. Only records that are regular
 * files of this user are read (see private-files.ts): another user's record could map a URI to
 * the wrong content.
 */

export interface IndexRecord {
  uri: string;
  etag: string;
  sha256: string;
  size: number;
  indexedAt: string;
}

export function readIndex(layout: CacheLayout, uri: string): IndexRecord | undefined {
  let text: string | undefined;
  try {
    text = readOwnTextOrRemove(layout.index(uri));
  } catch {
    return undefined;
  }
  if (text === undefined) return undefined;
  try {
    const r = JSON.parse(text) as Partial<IndexRecord>;
    // Two URIs never share a record file unless their SHA-256 collides; still, check.
    if (
      r.uri !== uri ||
      typeof r.etag !== 'string' ||
      typeof r.sha256 !== 'string' ||
      !isSha256Hex(r.sha256) ||
      typeof r.size !== 'number'
    )
      return undefined;
    return r as IndexRecord;
  } catch {
    return undefined; // a torn or foreign file is a miss
  }
}

export function writeIndex(layout: CacheLayout, record: Omit<IndexRecord, 'indexedAt'>): void {
  const file = layout.index(record.uri);
  ensurePrivateDir(layout.dir, path.dirname(file));
  writeOwnFileAtomically(file, JSON.stringify({ ...record, indexedAt: new Date().toISOString() }));
}

/** Every record (for `cache ls` and for pruning records whose content is gone). */
export function* allIndexRecords(layout: CacheLayout): Generator<{ file: string; record: IndexRecord }> {
  for (const file of filesUnder(layout.indexRoot)) {
    if (!file.endsWith('.json')) continue;
    try {
      const text = readOwnTextOrRemove(file);
      if (text === undefined) continue;
      const r = JSON.parse(text) as IndexRecord;
      if (typeof r.uri === 'string' && typeof r.sha256 === 'string') yield { file, record: r };
    } catch {
      // torn or foreign: skipped
    }
  }
}

/** Files two levels down (`<root>/<xx>/<name>`), the shape of every cache folder. */
export function* filesUnder(root: string): Generator<string> {
  let shards: string[];
  try {
    shards = fs.readdirSync(root);
  } catch {
    return;
  }
  for (const shard of shards.sort()) {
    // A symlink in a shard's place leads out of the cache: never listed (ensurePrivateDir replaces it).
    if (!fs.lstatSync(path.join(root, shard), { throwIfNoEntry: false })?.isDirectory()) continue;
    let names: string[];
    try {
      names = fs.readdirSync(path.join(root, shard));
    } catch {
      continue;
    }
    for (const name of names.sort()) yield path.join(root, shard, name);
  }
}
