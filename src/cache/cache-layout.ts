import { sha256Hex } from '../core/sha256.js';
import { homedir } from 'node:os';
import path from 'node:path';
import { ConfigurationError } from '../core/configuration-error.js';

/**
 * Where the download cache keeps what. One directory per machine, shared by every process:
 *
 *   <dir>/v1/content/sha256/<h[0:2]>/<hex>        the bytes, read-only, mtime = FILL_STAMP
 *   <dir>/v1/content/sha256/<h[0:2]>/<hex>.used   empty; its mtime is the entry's last use (LRU)
 *   <dir>/v1/index/<u[0:2]>/<u>.json              URI + version → content (u = sha256 of the URI)
 *   <dir>/v1/local/<p[0:2]>/<p>.json              local file identity → its sha256 (p = sha256 of the path)
 *   <dir>/v1/locks/<key>.lock                     one filler per content or URI, across processes
 *   <dir>/v1/tmp/<id>/                            downloads in progress (same filesystem: rename is atomic)
 *
 * `v1` names this layout: a different layout gets another folder instead of misreading this one.
 */

export const CACHE_DIR_ENV = 'MEMOCALL_CACHE_DIR';
const LAYOUT = 'v1';

/**
 * The mtime every content file gets when it is filled (2001-09-09T01:46:40Z). Any write to an
 * entry (which first needs a chmod: entries are read-only) moves its mtime to "now", so one stat
 * at each use detects a modified entry without re-hashing it.
 */
export const FILL_STAMP_SECONDS = 1_000_000_000;
export const FILL_STAMP_MS = FILL_STAMP_SECONDS * 1000;

const HEX64 = /^[0-9a-f]{64}$/;

/** The cache directory: `option`, else `MEMOCALL_CACHE_DIR`, else `~/.cache/memocall`. */
export function resolveCacheDir(option?: string): string {
  const dir = option ?? process.env[CACHE_DIR_ENV] ?? path.join(homedir(), '.cache', 'memocall');
  if (dir.trim() === '')
    throw new ConfigurationError(`the download cache directory is empty (${CACHE_DIR_ENV} or the dir option)`);
  return path.resolve(dir);
}

export function isSha256Hex(value: string): boolean {
  return HEX64.test(value);
}

/** Paths inside one cache directory. */
export class CacheLayout {
  readonly root: string;

  constructor(readonly dir: string) {
    this.root = path.join(dir, LAYOUT);
  }

  get contentRoot(): string {
    return path.join(this.root, 'content', 'sha256');
  }

  content(sha256: string): string {
    return path.join(this.contentRoot, sha256.slice(0, 2), sha256);
  }

  usedMarker(sha256: string): string {
    return `${this.content(sha256)}.used`;
  }

  get indexRoot(): string {
    return path.join(this.root, 'index');
  }

  index(uri: string): string {
    const h = sha256Hex(uri);
    return path.join(this.indexRoot, h.slice(0, 2), `${h}.json`);
  }

  localHash(absPath: string): string {
    const h = sha256Hex(absPath);
    return path.join(this.root, 'local', h.slice(0, 2), `${h}.json`);
  }

  get locksRoot(): string {
    return path.join(this.root, 'locks');
  }

  /** The fill lock of a content hash or, when the hash is not known yet, of a URI. */
  lock(key: { sha256: string } | { uri: string }): string {
    const name = 'sha256' in key ? `sha256-${key.sha256}` : `uri-${sha256Hex(key.uri)}`;
    return path.join(this.locksRoot, `${name}.lock`);
  }

  get tmpRoot(): string {
    return path.join(this.root, 'tmp');
  }
}
