import type { RetryOptions } from './retry.js';

// The S3 store's options, apart from the store so that memocall's public types name no AWS
// package: a user who never touches s3:// needs no @aws-sdk installed, not even for type-checking.

/** Static credentials, or what a credential provider resolves to (the SDK's `AwsCredentialIdentity`). */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** An `S3Client` of @aws-sdk/client-s3, as far as these types need to say. */
export interface S3ClientLike {
  send(command: never, options?: object): Promise<unknown>;
  destroy(): void;
}

export interface S3StoreOptions {
  /**
   * Region. Default: the SDK's chain (`AWS_REGION`, the profile's `region`), then
   * `AWS_DEFAULT_REGION`, then `us-east-1` when a custom endpoint is set. Requests follow S3's
   * region redirects, so a bucket in another region still works.
   */
  region?: string;
  /**
   * Endpoint of an S3-compatible server. Default: env `MEMOCALL_S3_ENDPOINT`, else
   * `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, else AWS itself.
   */
  endpoint?: string;
  /**
   * Path-style addressing (`http://host/bucket/key`). Default: env `MEMOCALL_S3_FORCE_PATH_STYLE`
   * (`1`/`true`/`0`/`false`), else true exactly when a custom endpoint is set.
   */
  forcePathStyle?: boolean;
  /** Credentials. Default: the SDK's default chain (env, shared files, SSO, web identity, IMDS...). */
  credentials?: S3Credentials | (() => Promise<S3Credentials>);
  /**
   * How an `ifMatch` ETag is sent on PUT. Ceph RGW compares it without the surrounding quotes
   * and refuses the quoted form. Default: env `MEMOCALL_S3_IF_MATCH_QUOTES` (`quoted`/`unquoted`),
   * else `unquoted` for custom endpoints, `quoted` (RFC 7232) for AWS.
   */
  ifMatchQuoting?: 'quoted' | 'unquoted';
  /**
   * Part size of multipart uploads and ranged downloads. Default 8 MiB (min 5 MiB): with 8
   * parts in flight a 1 GiB transfer stays far below 300 MiB RSS, and as fast as 16 MiB parts.
   */
  partSizeBytes?: number;
  /** Parts uploaded at once; memory is about `partSizeBytes × uploadConcurrency`. Default 8. */
  uploadConcurrency?: number;
  /** Ranged GETs in flight for `getFile`. Default 8. */
  downloadConcurrency?: number;
  /** A socket with no traffic for this long is cut and the request retried. Default 30_000 ms. */
  stallTimeoutMs?: number;
  /** TCP connect timeout. Default 10_000 ms. */
  connectTimeoutMs?: number;
  /** Sockets per host. Default 64. */
  maxSockets?: number;
  /** Retry policy (see retry.ts for defaults). */
  retry?: RetryOptions;
  /** Refuse objects that carry no sha256 metadata (not written by memocall). Default false. */
  requireIntegrity?: boolean;
  /** Use this client as is (the connection options above are then ignored). */
  client?: S3ClientLike;
  /** Environment to read defaults from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}
