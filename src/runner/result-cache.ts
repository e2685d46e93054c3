/**
 * Encoded results this process has read or written, by memo URI. Results are immutable once
 * written (first writer wins), so a repeated hit never needs storage again. Bounded LRU by bytes.
 * Values are kept encoded and decoded per caller, so no caller can mutate another's result.
 */
export class ResultCache {
  private readonly entries = new Map<string, Uint8Array>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(memoUri: string): Uint8Array | undefined {
    const value = this.entries.get(memoUri);
    if (value !== undefined) {
      // Re-insert to mark as most recently used.
      this.entries.delete(memoUri);
      this.entries.set(memoUri, value);
    }
    return value;
  }

  set(memoUri: string, value: Uint8Array): void {
    if (value.byteLength > this.maxBytes / 4) return; // a few huge results must not evict everything
    const previous = this.entries.get(memoUri);
    if (previous) this.bytes -= previous.byteLength;
    this.entries.delete(memoUri);
    this.entries.set(memoUri, value);
    this.bytes += value.byteLength + memoUri.length;
    for (const [key, old] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(key);
      this.bytes -= old.byteLength + key.length;
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Default cap of the process-wide cache: `MEMOCALL_RESULT_CACHE_BYTES`, else 64 MiB. */
export const processResultCache = new ResultCache(Number(process.env.MEMOCALL_RESULT_CACHE_BYTES) || 64 * 1024 * 1024);
