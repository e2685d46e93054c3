// The public API of memocall (see shared/API.md). Nothing but re-exports, and the wiring (setup.ts).
import './setup.js';
export { MemoizingRunner, type MemoizingRunnerOptions } from './memo/memoizing-runner.js';
export {
  useRunner,
  type Memoized,
  type AnyMemoized,
  type UseRunnerOptions,
  type MemoizeWrapper,
} from './memo/use-runner.js';
export { pure, type PureOptions } from './memo/pure.js';
export { pipelineIdMask } from './memo/pipeline-id-mask.js';
export { samethread } from './shims/samethread.js';
export { subprocess, type SubprocessOptions } from './shims/subprocess/subprocess-shim.js';
export { registerShim } from './shims/shim-registry.js';
export type { Shim, ShimRequest, ShimContext, ShimSlots } from './shims/shim.js';
export { withSignal } from './execute/call-signal.js';
export { runInvocation, type RunReport } from './execute/remote-entry.js';
export { RUN_EXIT, type RunRequest, type RunStatus } from './protocol/run-request.js';
export { parseRunArgv, runArgv } from './protocol/run-argv.js';
export { RemoteError, NoResultError, type StoredError } from './protocol/errors.js';
export { LeaseLostError, CallAbortedError, BadInvocationError } from './execute/errors.js';
export { CorruptRecordError, RecordPathBlockedError } from './protocol/corrupt-record.js';
export { ConfigurationError } from './core/configuration-error.js';
export { MissingDependencyError } from './core/missing-dependency-error.js';
export { SubprocessError } from './shims/subprocess/errors.js';
export { ImportTimeCallError, WaitsOnParentError } from './execute/parent-chain.js';
export { resolveConfig, type MemocallConfig } from './memo/config.js';

export { registerCodec } from './core/codec-registry.js';
export { SerializationError } from './core/serialization-error.js';
export { MemocallError } from './core/memocall-error.js';
export { KEY_FORMAT_VERSION } from './core/key-format.js';

export type { BlobStore, BlobHead, PutOptions, VersionedBlob } from './blobstore/blob-store.js';
export { registerBlobStore, lookupBlobStore } from './blobstore/registry.js';
export { BlobNotFoundError, PreconditionFailedError, UnsupportedUriError } from './blobstore/errors.js';

export { SrcFile, localSrc, src, loadSrcFile } from './files/src-file.js';
export { DestFile, dest, DestFileContext } from './files/dest-file.js';
export { SrcFileContext } from './files/src-file-context.js';
export { Source, fromFile, fromUri, type FromFileOptions } from './files/source.js';
export { invocationOutputFqn } from './files/output-naming.js';
export {
  LocalFileNotFoundError,
  FileUnavailableError,
  FileNotPreparedError,
  DestFileNotWrittenError,
  DuplicateOutputUriError,
  PointerFileError,
  NotInInvocationError,
  InvalidOutputNameError,
  InvalidRelativePathError,
} from './files/errors.js';
export { downloadToCache, uploadThroughCache, configureDownloadCache } from './cache/default-cache.js';
export { DownloadCache, type DownloadCacheOptions, type CachedFile } from './cache/download-cache.js';
export { CacheIntegrityError } from './cache/errors.js';
export { LocalFileChangedError } from './core/local-file-changed-error.js';
export { k8s } from './shims/k8s/k8s-shim.js';
export {
  DEFAULT_FORWARD_ENV,
  type K8sOptions,
  type K8sResources,
  type K8sJob,
  type K8sObjectMeta,
  type K8sKubeConfig,
  type K8sEnvFromSource,
  type K8sToleration,
  type K8sAffinity,
} from './shims/k8s/k8s-options.js';
export { K8sJobFailedError, K8sJobVanishedError, K8sApiError } from './shims/k8s/errors.js';
export { queue, type QueueOptions, type QueueShim } from './shims/queue/queue-shim.js';
export type { QueueRedisOptions } from './shims/queue/queue-redis-options.js';
export {
  startQueueWorker,
  type QueueWorker,
  type QueueWorkerOptions,
  type QueueWorkerJobEnd,
} from './shims/queue/queue-worker.js';
export { QueueJobFailedError, QueueJobLostError, QueueConnectionError } from './shims/queue/errors.js';

// Cloud stores: s3://, adls:// and Azure https:// URIs (registered by setup.ts).
export { configureCloudStores, type CloudStoresOptions } from './blobstore/cloud/cloud-stores.js';
export type { S3StoreOptions, S3Credentials, S3ClientLike } from './blobstore/cloud/s3-options.js';
export type { AzureStoreOptions, AzureTokenCredential } from './blobstore/cloud/azure-store.js';
export { IntegrityError, MissingIntegrityError } from './blobstore/cloud/integrity.js';
