// The public API of memocall (see shared/API.md). Nothing but re-exports.
export { MemoizingRunner, type MemoizingRunnerOptions } from './runner/memoizing-runner.js';
export { useRunner, type Memoized, type AnyMemoized, type UseRunnerOptions, type MemoizeWrapper } from './runner/use-runner.js';
export { pure, type PureOptions } from './runner/pure.js';
export { pipelineIdMask } from './runner/pipeline-id-mask.js';
export { samethread } from './runner/samethread.js';
export { registerShim } from './runner/shim-registry.js';
export type { Shim, ShimContext } from './runner/shim.js';
export { runInvocation, parseRunArgv, RUN_EXIT, type RunRequest, type RunStatus } from './runner/remote-entry.js';
export { RemoteError, LeaseLostError, NoResultError, ConfigurationError, type StoredError } from './runner/errors.js';
export { resolveConfig, type MemocallConfig } from './runner/config.js';

export { registerCodec } from './core/codec-registry.js';
export { SerializationError } from './core/serialization-error.js';
export { MemocallError } from './core/memocall-error.js';
export { KEY_FORMAT_VERSION } from './core/key-format.js';

export type { BlobStore, BlobHead, PutOptions, VersionedBlob } from './blobstore/blob-store.js';
export { registerBlobStore, lookupBlobStore } from './blobstore/registry.js';
export { BlobNotFoundError, PreconditionFailedError, UnsupportedUriError } from './blobstore/errors.js';
