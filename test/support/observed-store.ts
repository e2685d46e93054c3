import type { BlobStore, PutOptions } from '../../src/index.js';
import { lookupBlobStore, PreconditionFailedError, registerBlobStore } from '../../src/index.js';

export type ReadOp = 'get' | 'tryGet' | 'getVersioned' | 'head' | 'getFile';

export interface StoreObserver {
  /** Called before every read of an object. */
  onRead?(uri: string, op: ReadOp): void;
  /** Called before every write; may throw (e.g. a transient network error) to fail it, or delay it. */
  beforePut?(uri: string, data: Uint8Array, opts: PutOptions | undefined): void | Promise<void>;
  /** Called after a conditional write was refused (PreconditionFailedError). */
  onPreconditionFailed?(uri: string, opts: PutOptions | undefined): void;
  /** Replaces `getFile` (e.g. to corrupt a transfer); `inner` does the real transfer. */
  getFile?(uri: string, localPath: string, inner: (uri: string, localPath: string) => Promise<void>): Promise<void>;
}

/**
 * A real store (file:// or memory://) seen through a test scheme: every operation goes to the
 * real store, and the observer is told of reads and refused writes or changes a transfer. Not a
 * mock of memocall: it is a user store, registered like any other with `registerBlobStore`.
 */
export class ObservedStore implements BlobStore {
  readonly reads: Array<{ uri: string; op: ReadOp }> = [];
  /** Every write attempted, failed ones included. */
  readonly writes: Array<{ uri: string; data: Uint8Array; opts: PutOptions | undefined }> = [];

  constructor(
    readonly scheme: string,
    private readonly innerScheme: 'file' | 'memory',
    private readonly observer: StoreObserver = {},
  ) {}

  /** Registers this store under its scheme; returns `rootUri` (of the inner store) seen through it. */
  static register(
    scheme: string,
    innerRoot: string,
    observer: StoreObserver = {},
  ): { store: ObservedStore; root: string } {
    const innerScheme = innerRoot.startsWith('memory:') ? 'memory' : 'file';
    const store = new ObservedStore(scheme, innerScheme, observer);
    registerBlobStore(scheme, () => store);
    return { store, root: `${scheme}:${innerRoot.slice(innerScheme.length + 1)}` };
  }

  /** Reads of objects whose URI ends with `suffix`. */
  readsOf(suffix: string): number {
    return this.reads.filter((r) => r.uri.endsWith(suffix)).length;
  }

  private real(uri: string): string {
    return `${this.innerScheme}:${uri.slice(this.scheme.length + 1)}`;
  }

  private read(uri: string, op: ReadOp): string {
    this.reads.push({ uri, op });
    this.observer.onRead?.(uri, op);
    return this.real(uri);
  }

  private storeOf(uri: string): BlobStore {
    return lookupBlobStore(this.real(uri));
  }

  get(uri: string) {
    return this.storeOf(uri).get(this.read(uri, 'get'));
  }
  async tryGet(uri: string) {
    const store = this.storeOf(uri);
    const real = this.read(uri, 'tryGet');
    return store.tryGet ? store.tryGet(real) : store.get(real);
  }
  getVersioned(uri: string) {
    return this.storeOf(uri).getVersioned!(this.read(uri, 'getVersioned'));
  }
  head(uri: string) {
    return this.storeOf(uri).head(this.read(uri, 'head'));
  }
  async put(uri: string, data: Uint8Array, opts?: PutOptions) {
    this.writes.push({ uri, data, opts });
    await this.observer.beforePut?.(uri, data, opts);
    try {
      return await this.storeOf(uri).put(this.real(uri), data, opts);
    } catch (err) {
      if (err instanceof PreconditionFailedError) this.observer.onPreconditionFailed?.(uri, opts);
      throw err;
    }
  }
  async *list(prefix: string) {
    const innerPrefix = `${this.innerScheme}:`;
    for await (const uri of this.storeOf(prefix).list(this.real(prefix))) {
      yield `${this.scheme}:${uri.slice(innerPrefix.length)}`;
    }
  }
  delete(uri: string) {
    return this.storeOf(uri).delete(this.real(uri));
  }
  getFile(uri: string, localPath: string) {
    const store = this.storeOf(uri);
    const real = this.read(uri, 'getFile');
    const transfer = (_u: string, p: string) => store.getFile(real, p);
    return this.observer.getFile ? this.observer.getFile(uri, localPath, transfer) : transfer(uri, localPath);
  }
  putFile(localPath: string, uri: string, opts?: PutOptions) {
    return this.storeOf(uri).putFile(localPath, this.real(uri), opts);
  }
}
