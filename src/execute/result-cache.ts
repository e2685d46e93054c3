import { decodeCanonical } from '../core/canonical-decode.js';
import { DEFAULTS } from '../protocol/defaults.js';

interface Entry {
  bytes: Uint8Array;
  /** Set once decoded, for results that cannot be mutated (primitives): no decode per hit. */
  frozen?: { value: unknown };
}

/**
 * Encoded results this process has read or written, by memo URI. Results are immutable once
 * written (first writer wins), so a repeated hit never needs storage again. Bounded LRU by bytes.
 * Objects are decoded afresh per caller, so no caller can mutate another's result.
 */
export class ResultCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  has(memoUri: string): boolean {
    return this.entries.has(memoUri);
  }

  /** The decoded result, or `miss` when not cached. */
  read(memoUri: string, miss: symbol): unknown {
    const entry = this.entries.get(memoUri);
    if (entry === undefined) return miss;
    // Re-insert to mark as most recently used.
    this.entries.delete(memoUri);
    this.entries.set(memoUri, entry);
    if (entry.frozen) return entry.frozen.value;
    const value = decodeCanonical(entry.bytes);
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) entry.frozen = { value };
    return value;
  }

  /** The encoded result, if cached (no LRU update, no decoding). */
  encoded(memoUri: string): Uint8Array | undefined {
    return this.entries.get(memoUri)?.bytes;
  }

  set(memoUri: string, value: Uint8Array): void {
    if (value.byteLength > this.maxBytes / 4) return; // a few huge results must not evict everything
    const previous = this.entries.get(memoUri);
    if (previous) this.bytes -= previous.bytes.byteLength + memoUri.length;
    this.entries.delete(memoUri);
    this.entries.set(memoUri, { bytes: value });
    this.bytes += value.byteLength + memoUri.length;
    for (const [key, old] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(key);
      this.bytes -= old.bytes.byteLength + key.length;
    }
  }

  /** Forgets every result (tests: see memo/process-state.ts). */
  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Cap of the process-wide cache: `MEMOCALL_RESULT_CACHE_BYTES`, else the default (64 MiB). */
export const processResultCache = new ResultCache(
  Number(process.env.MEMOCALL_RESULT_CACHE_BYTES) || DEFAULTS.resultCacheBytes,
);
