// The public API of memocall (see shared/API.md). Nothing but re-exports.
export { MemoizingRunner, type MemoizingRunnerOptions } from './runner/memoizing-runner.js';
export { useRunner, type Memoized, type AnyMemoized, type UseRunnerOptions, type MemoizeWrapper } from './runner/use-runner.js';
export { pure, type PureOptions } from './runner/pure.js';
export { pipelineIdMask } from './runner/pipeline-id-mask.js';
export { samethread } from './runner/samethread.js';
export { subprocess, type SubprocessOptions } from './runner/subprocess.js';
export { registerShim } from './runner/shim-registry.js';
export type { Shim, ShimContext, ShimSlots } from './runner/shim.js';
export { withSignal } from './runner/call-signal.js';
export { runInvocation, parseRunArgv, RUN_EXIT, type RunRequest, type RunStatus, type RunReport } from './runner/remote-entry.js';
export {
  RemoteError,
  LeaseLostError,
  NoResultError,
  ConfigurationError,
  CallAbortedError,
  SubprocessError,
  BadInvocationError,
  type StoredError,
} from './runner/errors.js';
export { resolveConfig, type MemocallConfig } from './runner/config.js';

export { registerCodec } from './core/codec-registry.js';
export { SerializationError } from './core/serialization-error.js';
export { MemocallError } from './core/memocall-error.js';
export { KEY_FORMAT_VERSION } from './core/key-format.js';

export type { BlobStore, BlobHead, PutOptions, VersionedBlob } from './blobstore/blob-store.js';
export { registerBlobStore, lookupBlobStore } from './blobstore/registry.js';
export { BlobNotFoundError, PreconditionFailedError, UnsupportedUriError } from './blobstore/errors.js';

import './srcdest/register.js';
export { SrcFile, localSrc, src, loadSrcFile } from './srcdest/src-file.js';
export { DestFile, dest, DestFileContext } from './srcdest/dest-file.js';
export { SrcFileContext } from './srcdest/src-file-context.js';
export { Source, fromFile, fromUri, type FromFileOptions } from './srcdest/source.js';
export { invocationOutputFqn } from './srcdest/output-naming.js';
export {
  LocalFileNotFoundError,
  FileUnavailableError,
  FileNotPreparedError,
  DestFileNotWrittenError,
  DuplicateOutputUriError,
  PointerFileError,
  NotInInvocationError,
  InvalidRelativePathError,
} from './srcdest/errors.js';
export { downloadToCache, uploadThroughCache, configureDownloadCache } from './cache/default-cache.js';
export { DownloadCache, type DownloadCacheOptions, type CachedFile } from './cache/download-cache.js';
export { CacheIntegrityError, LocalFileChangedError, CacheConfigError } from './cache/errors.js';
export { k8s } from './runner/k8s/k8s-shim.js';
export { DEFAULT_FORWARD_ENV, type K8sOptions, type K8sResources } from './runner/k8s/k8s-options.js';
export { K8sJobFailedError, K8sJobVanishedError, K8sApiError } from './runner/k8s/errors.js';
export { queue, type QueueOptions, type QueueShim } from './runner/queue-shim.js';
export { startQueueWorker, type QueueWorker, type QueueWorkerOptions, type QueueWorkerJobEnd } from './runner/queue-worker.js';
export { QueueJobFailedError, QueueJobLostError, QueueConnectionError } from './runner/queue-errors.js';

// Cloud stores: s3://, adls:// and Azure https:// URIs, registered lazily (no SDK loads until used).
import './blobstore/cloud-stores.js';
export { configureCloudStores, type CloudStoresOptions } from './blobstore/cloud-stores.js';
export type { S3StoreOptions } from './blobstore/s3-store.js';
export type { AzureStoreOptions } from './blobstore/azure-store.js';
export { IntegrityError, MissingIntegrityError } from './blobstore/integrity.js';
