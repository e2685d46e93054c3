import { randomUUID } from 'node:crypto';
import { concatChunks } from '../../core/concat-chunks.js';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type GetObjectCommandOutput,
  type PutObjectCommandInput,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';
import { debuglog } from 'node:util';
import { ConfigurationError } from '../../core/configuration-error.js';
import { LocalFileChangedError } from '../../core/local-file-changed-error.js';
import { redactUri } from '../../core/redact-uri.js';
import { sha256OfFile } from '../../core/sha256-file.js';
import { sha256Hex } from '../../core/sha256.js';
import { checkKeyPrefix, checkObjectKey } from '../object-key.js';
import { tempSiblingPath } from '../local/atomic-local-file.js';
import type { BlobHead, BlobStore, PutOptions, VersionedBlob } from '../blob-store.js';
import { BlobNotFoundError, PreconditionFailedError, UnsupportedUriError } from '../errors.js';
import {
  ObjectChangedError,
  S3_SHA256_KEY,
  Sha256Accumulator,
  downloadVerified,
  verifySha256,
  withSha256,
} from './integrity.js';
import { MIB, httpStatusOf, responseBody, retryIntegrityOnce, totalSizeOf } from './cloud-kit.js';
import { TransientError, withRetries, type FailureKind, type RetryOptions } from './retry.js';
import type { S3StoreOptions } from './s3-options.js';

/**
 * `s3://bucket/key` objects through @aws-sdk/client-s3 (+ lib-storage for multipart uploads).
 * Works with AWS and S3-compatible servers (Ceph RGW, MinIO...). See `S3StoreOptions` for how it
 * is configured; by default exactly like the AWS CLI: the SDK's credential chain and region.
 */

/** Returned when our write was overwritten before its ETag could be learnt; matches no object. */
const SUPERSEDED_ETAG = '"memocall-superseded"';

/** Metadata key of the per-call write token that lets a retried conditional write recognise itself. */
const WRITE_ID_KEY = 'memocall-write-id';

export type { S3StoreOptions, S3Credentials, S3ClientLike } from './s3-options.js';

/** The resolved configuration; exported so tests and `memocall` diagnostics can show it. */
export interface ResolvedS3Config {
  clientConfig: S3ClientConfig;
  customEndpoint: boolean;
  ifMatchQuoting: 'quoted' | 'unquoted';
  partSizeBytes: number;
  uploadConcurrency: number;
  downloadConcurrency: number;
  retry: RetryOptions;
  requireIntegrity: boolean;
}

const sdkLog = debuglog('memocall');
const QUIET_SDK_LOGGER = {
  debug: (): void => undefined,
  info: (): void => undefined,
  warn: (...args: unknown[]): void => sdkLog('s3 sdk: %s', args.map(String).join(' ')),
  // The SDK's logger middleware reports every failed request here; retry.ts already logs each
  // retry once and callers get the final error, so a third report would only be noise.
  error: (): void => undefined,
};

export function resolveS3Config(options: S3StoreOptions = {}): ResolvedS3Config {
  const env = options.env ?? process.env;
  const endpoint =
    options.endpoint ??
    nonEmpty(env.MEMOCALL_S3_ENDPOINT) ??
    nonEmpty(env.AWS_ENDPOINT_URL_S3) ??
    nonEmpty(env.AWS_ENDPOINT_URL);
  const customEndpoint = endpoint !== undefined;
  const forcePathStyle =
    options.forcePathStyle ??
    parseBool(env.MEMOCALL_S3_FORCE_PATH_STYLE, 'MEMOCALL_S3_FORCE_PATH_STYLE') ??
    customEndpoint;
  const region =
    options.region ??
    nonEmpty(env.AWS_REGION) ??
    // The SDK reads the profile's region itself; only fill in what the AWS CLI would.
    nonEmpty(env.AWS_DEFAULT_REGION) ??
    (customEndpoint ? 'us-east-1' : undefined);
  const quotingEnv = nonEmpty(env.MEMOCALL_S3_IF_MATCH_QUOTES);
  if (quotingEnv !== undefined && quotingEnv !== 'quoted' && quotingEnv !== 'unquoted') {
    throw new ConfigurationError(`MEMOCALL_S3_IF_MATCH_QUOTES must be 'quoted' or 'unquoted', not '${quotingEnv}'`);
  }
  const ifMatchQuoting =
    options.ifMatchQuoting ??
    (quotingEnv as 'quoted' | 'unquoted' | undefined) ??
    (customEndpoint ? 'unquoted' : 'quoted');
  const partSizeBytes = Math.max(5 * MIB, options.partSizeBytes ?? 8 * MIB);
  const stallTimeoutMs = options.stallTimeoutMs ?? 30_000;
  const maxSockets = options.maxSockets ?? 64;
  const clientConfig: S3ClientConfig = {
    ...(region !== undefined ? { region } : {}),
    ...(endpoint !== undefined ? { endpoint } : {}),
    forcePathStyle,
    followRegionRedirects: !customEndpoint,
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    // retry.ts is the one retry policy; SDK retries would multiply attempts and go unlogged.
    maxAttempts: 1,
    // The SDK warns on console about things retry.ts handles (failed streaming requests).
    logger: QUIET_SDK_LOGGER,
    requestHandler: {
      connectionTimeout: options.connectTimeoutMs ?? 10_000,
      // Idle timeout of the socket, also while a body streams: this is what turns a stall into
      // a retryable TimeoutError. (requestTimeout would cap whole transfers, wrong for 1 GiB.)
      socketTimeout: stallTimeoutMs,
      httpAgent: { keepAlive: true, maxSockets },
      httpsAgent: { keepAlive: true, maxSockets },
    },
    // On S3-compatible servers the SDK's default CRC trailers make some servers store the
    // aws-chunked framing as the object's bytes; our own sha256 covers integrity anyway.
    ...(customEndpoint
      ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
      : {}),
  };
  return {
    clientConfig,
    customEndpoint,
    ifMatchQuoting,
    partSizeBytes,
    uploadConcurrency: Math.max(1, options.uploadConcurrency ?? 8),
    downloadConcurrency: Math.max(1, options.downloadConcurrency ?? 8),
    retry: options.retry ?? {},
    requireIntegrity: options.requireIntegrity ?? false,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function parseBool(value: string | undefined, name: string): boolean | undefined {
  const v = nonEmpty(value)?.toLowerCase();
  if (v === undefined) return undefined;
  if (v === '1' || v === 'true' || v === 'yes') return true;
  if (v === '0' || v === 'false' || v === 'no') return false;
  throw new ConfigurationError(`${name} must be 1/true/0/false, not '${value}'`);
}

export interface S3Location {
  bucket: string;
  key: string;
}

/** `s3://bucket/key` → parts. `allowEmptyKey` for list prefixes (`s3://bucket` or `s3://bucket/`). */
export function parseS3Uri(uri: string, allowEmptyKey = false): S3Location {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/s.exec(uri);
  const bucket = match?.[1];
  if (!match || bucket === undefined) throw new UnsupportedUriError(uri, 'expected s3://bucket/key');
  if (!/^[a-z0-9][a-z0-9.\-_]{1,254}$/i.test(bucket))
    throw new UnsupportedUriError(uri, `'${redactUri(`s3://${bucket}`).slice('s3://'.length)}' is not a bucket name`);
  const key = match[2] ?? '';
  if (key === '' && !allowEmptyKey) throw new UnsupportedUriError(uri, 'no object key after the bucket');
  if (allowEmptyKey) checkKeyPrefix(uri, key);
  else checkObjectKey(uri, key);
  return { bucket, key };
}

interface RawHead extends BlobHead {
  metadata: Record<string, string>;
}

export class S3Store implements BlobStore {
  readonly client: S3Client;
  readonly config: ResolvedS3Config;
  readonly #ownsClient: boolean;

  constructor(options: S3StoreOptions = {}) {
    this.config = resolveS3Config(options);
    this.#ownsClient = options.client === undefined;
    // An S3ClientLike passed in is an S3Client (the option's type only avoids naming the SDK).
    this.client = (options.client as S3Client | undefined) ?? new S3Client(this.config.clientConfig);
  }

  /** Closes the sockets of a client this store created. */
  destroy(): void {
    if (this.#ownsClient) this.client.destroy();
  }

  async get(uri: string): Promise<Uint8Array> {
    return (await this.getVersioned(uri)).data;
  }

  async getVersioned(uri: string): Promise<VersionedBlob> {
    const { bucket, key } = parseS3Uri(uri);
    return this.#retry(
      `s3 get ${uri}`,
      async () => {
        const res = await this.#send(uri, () => this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
        const acc = new Sha256Accumulator();
        const chunks: Uint8Array[] = [];
        for await (const chunk of responseBody(res.Body as Readable | undefined, 's3 get')) {
          acc.update(chunk);
          chunks.push(chunk);
        }
        const size = res.ContentLength ?? acc.bytes;
        if (acc.bytes !== size) throw new TransientError(`${uri}: body ended after ${acc.bytes} of ${size} bytes`);
        verifySha256(uri, res.Metadata?.[S3_SHA256_KEY], acc.digestHex(), this.config.requireIntegrity);
        return {
          data: concatChunks(chunks),
          etag: versionTag(res.ETag, res.Metadata),
          size,
          lastModified: res.LastModified ?? new Date(0),
        };
      },
      retryIntegrityOnce,
    );
  }

  /** Bytes [start, end) of the current version. Not verified: integrity covers whole objects. */
  async getRange(uri: string, start: number, end: number): Promise<Uint8Array> {
    const { bucket, key } = parseS3Uri(uri);
    if (end <= start) return new Uint8Array(0);
    return this.#retry(`s3 get range ${start}-${end - 1} ${uri}`, async () => {
      const res = await this.#send(uri, () =>
        this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end - 1}` })),
      );
      const chunks: Uint8Array[] = [];
      for await (const chunk of responseBody(res.Body as Readable | undefined, 's3 get')) {
        chunks.push(chunk);
      }
      return concatChunks(chunks);
    });
  }

  async head(uri: string): Promise<BlobHead | null> {
    const raw = await this.#headRaw(uri);
    return raw === null
      ? null
      : withSha256(
          { size: raw.size, etag: versionTag(raw.etag, raw.metadata), lastModified: raw.lastModified },
          raw.metadata[S3_SHA256_KEY],
        );
  }

  async put(uri: string, data: Uint8Array, opts: PutOptions = {}): Promise<{ etag: string }> {
    const sha256 = sha256Hex(data);
    // A Buffer view over the same memory: the SDK and lib-storage slice it, never copy it.
    const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return this.#conditionalPut(uri, opts, sha256, (metadata, condition) => {
      if (data.byteLength <= this.config.partSizeBytes || condition.ifNoneMatch || condition.ifMatch) {
        return this.#putObject(uri, body, data.byteLength, metadata, condition);
      }
      return this.#multipart(uri, body, data.byteLength, metadata);
    });
  }

  async putFile(localPath: string, uri: string, opts: PutOptions = {}): Promise<{ etag: string }> {
    const before = await stat(localPath);
    // S3 takes metadata when an upload starts, so the digest must be known first: one extra
    // read of the file (page cache), the price of end-to-end verification.
    const { sha256, size } = await sha256OfFile(localPath);
    const small = size <= this.config.partSizeBytes ? await readFile(localPath) : undefined;
    if (small !== undefined && small.byteLength !== size)
      throw new LocalFileChangedError(localPath, `while being uploaded to ${uri}`);
    const result = await this.#conditionalPut(uri, opts, sha256, async (metadata, condition) => {
      if (small !== undefined) return this.#putObject(uri, small, size, metadata, condition);
      const stream = createReadStream(localPath, { highWaterMark: MIB });
      try {
        // A conditional write must be one atomic request: servers that honour If-None-Match on
        // PutObject do not all honour it on CompleteMultipartUpload (Ceph RGW 16 does not).
        // PutObject streams from the file and takes up to 5 GiB, memory stays bounded.
        if (condition.ifNoneMatch || condition.ifMatch)
          return await this.#putObject(uri, stream, size, metadata, condition);
        return await this.#multipart(uri, stream, size, metadata);
      } finally {
        stream.destroy();
      }
    });
    const after = await stat(localPath);
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs)
      throw new LocalFileChangedError(localPath, `while being uploaded to ${uri}`);
    return result;
  }

  async getFile(uri: string, localPath: string): Promise<void> {
    const { bucket, key } = parseS3Uri(uri);
    await mkdir(dirname(localPath), { recursive: true });
    const tempPath = tempSiblingPath(localPath);
    try {
      await this.#retry(
        `s3 getFile ${uri}`,
        async () => {
          // The first ranged GET tells the size, version and digest; the rest are pinned to that
          // version with If-Match so the file can never mix two versions.
          const first = await this.#firstRange(uri, bucket, key);
          try {
            await this.#downloadFrom(first, uri, bucket, key, tempPath);
          } finally {
            // Consumed by now on success; on failure it must not hold its socket.
            (first.Body as unknown as Readable | undefined)?.destroy?.();
          }
        },
        (error, attempt) => (error instanceof ObjectChangedError ? 'transient' : retryIntegrityOnce(error, attempt)),
      );
      await rename(tempPath, localPath);
    } catch (error) {
      await unlink(tempPath).catch(() => undefined);
      throw error;
    }
  }

  /** The rest of a getFile attempt, after the first ranged GET told the size and version. */
  async #downloadFrom(
    first: GetObjectCommandOutput,
    uri: string,
    bucket: string,
    key: string,
    tempPath: string,
  ): Promise<void> {
    const etag = first.ETag ?? '';
    const size = totalSizeOf(first.ContentRange, first.ContentLength, uri);
    await downloadVerified({
      uri,
      tempPath,
      size,
      partSize: this.config.partSizeBytes,
      concurrency: this.config.downloadConcurrency,
      firstBody: responseBody(first.Body as Readable | undefined, 's3 get'),
      storedSha256: first.Metadata?.[S3_SHA256_KEY],
      requireIntegrity: this.config.requireIntegrity,
      retryPart: (what, attempt) => this.#retry(`s3 get ${what}`, attempt),
      fetchRange: async (start, end) => {
        try {
          const res = await this.client.send(
            new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end - 1}`, IfMatch: etag }),
          );
          return responseBody(res.Body as Readable | undefined, 's3 get');
        } catch (error) {
          if (httpStatusOf(error) === 412 || httpStatusOf(error) === 404)
            throw new ObjectChangedError(uri, { cause: error });
          throw error;
        }
      },
    });
  }

  async *list(prefix: string): AsyncIterable<string> {
    const { bucket, key } = parseS3Uri(prefix, true);
    let token: string | undefined;
    do {
      const page = await this.#retry(`s3 list ${prefix}`, () =>
        this.#send(prefix, () =>
          this.client.send(
            new ListObjectsV2Command({ Bucket: bucket, Prefix: key, ContinuationToken: token, MaxKeys: 1000 }),
          ),
        ),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key !== undefined) yield `s3://${bucket}/${object.Key}`;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async delete(uri: string): Promise<void> {
    const { bucket, key } = parseS3Uri(uri);
    await this.#retry(`s3 delete ${uri}`, async () => {
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      } catch (error) {
        if (httpStatusOf(error) === 404 && errorName(error) !== 'NoSuchBucket') return;
        throw error;
      }
    });
  }

  // ---------------------------------------------------------------------------------------------

  #retry<T>(
    what: string,
    attempt: (n: number) => Promise<T>,
    classify?: (e: unknown, n: number) => FailureKind | undefined,
  ): Promise<T> {
    return withRetries(what, attempt, { ...this.config.retry, ...(classify ? { classify } : {}) });
  }

  /** Sends one request and turns "not there" into `BlobNotFoundError`. */
  async #send<T>(uri: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (isMissingObject(error)) throw new BlobNotFoundError(uri, { cause: error });
      throw error;
    }
  }

  async #headRaw(uri: string): Promise<RawHead | null> {
    const { bucket, key } = parseS3Uri(uri);
    return this.#retry(`s3 head ${uri}`, async () => {
      try {
        const res = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        // `etag` here is the server's own ETag; callers compose the version tag they hand out.
        return {
          size: res.ContentLength ?? 0,
          etag: res.ETag ?? '',
          lastModified: res.LastModified ?? new Date(0),
          metadata: res.Metadata ?? {},
        };
      } catch (error) {
        if (isMissingObject(error)) return null;
        throw error;
      }
    });
  }

  async #firstRange(uri: string, bucket: string, key: string): Promise<GetObjectCommandOutput> {
    return this.#send(uri, async () => {
      try {
        return await this.client.send(
          new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=0-${this.config.partSizeBytes - 1}` }),
        );
      } catch (error) {
        // An empty object has no byte 0: S3 answers 416. Read it whole instead.
        if (httpStatusOf(error) === 416) return this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        throw error;
      }
    });
  }

  /**
   * Runs one write under the retry policy with a write token in its metadata, and returns the
   * version tag `"<server etag>"#<write token>`.
   *
   * Why the token is in the tag: a single-part S3 ETag is the MD5 of the bytes, so writing the
   * same bytes again gives the same ETag, and If-Match alone cannot tell version A from a later
   * A' with equal bytes (ABA). With the token, every write has its own tag; an `ifMatch` whose
   * token no longer matches is refused after a HEAD, and the server's If-Match on the ETag part
   * still refuses, atomically, any write that changed the bytes in between. (The one window left
   * is an equal-bytes rewrite landing between our HEAD and our PUT, one round trip wide.)
   *
   * Why the token is in the metadata: when an attempt of a conditional write failed in
   * transport after the write landed, the retry fails the condition against our own object;
   * finding our token there means success, not conflict.
   */
  async #conditionalPut(
    uri: string,
    opts: PutOptions,
    sha256: string,
    write: (metadata: Record<string, string>, condition: PutOptions) => Promise<string>,
  ): Promise<{ etag: string }> {
    const asked: PutOptions =
      opts.ifNoneMatch === '*' ? { ifNoneMatch: '*' } : opts.ifMatch !== undefined ? { ifMatch: opts.ifMatch } : {};
    const expected = asked.ifMatch !== undefined ? splitVersionTag(asked.ifMatch) : undefined;
    // What the server checks: the ETag part only.
    const condition: PutOptions = expected ? { ifMatch: expected.etag } : asked;
    const writeId = randomUUID();
    const metadata = { [S3_SHA256_KEY]: sha256, [WRITE_ID_KEY]: writeId };
    const refuse = (cause?: unknown): PreconditionFailedError => new PreconditionFailedError(uri, asked, { cause });
    return this.#retry(`s3 put ${uri}`, async (attempt) => {
      if (expected?.writeId !== undefined) {
        const there = await this.#headRaw(uri);
        if (attempt > 1 && there?.metadata[WRITE_ID_KEY] === writeId)
          return { etag: versionTag(there.etag, there.metadata) };
        if (there === null || there.etag !== expected.etag || there.metadata[WRITE_ID_KEY] !== expected.writeId)
          throw refuse();
      }
      let serverEtag: string;
      try {
        serverEtag = await write(metadata, condition);
      } catch (error) {
        const refused = isConditionFailure(error, condition);
        if (refused === 'retry') throw new TransientError(`${uri}: concurrent conditional write`, { cause: error });
        if (!refused) throw error;
        if (attempt > 1) {
          const there = await this.#headRaw(uri);
          if (there?.metadata[WRITE_ID_KEY] === writeId) return { etag: versionTag(there.etag, there.metadata) };
        }
        throw refuse(error);
      }
      if (serverEtag === '') {
        // Ceph RGW 16 leaves the ETag of CompleteMultipartUpload empty. Ask, and accept the
        // answer only if the object there is still ours: otherwise our version is already gone,
        // and a tag that matches nothing is the truthful answer for a later ifMatch.
        const there = await this.#headRaw(uri);
        return {
          etag:
            there !== null && there.metadata[WRITE_ID_KEY] === writeId
              ? versionTag(there.etag, there.metadata)
              : SUPERSEDED_ETAG,
        };
      }
      return { etag: `${serverEtag}#${writeId}` };
    });
  }

  async #putObject(
    uri: string,
    body: Buffer | Readable,
    size: number,
    metadata: Record<string, string>,
    condition: PutOptions,
  ): Promise<string> {
    const { bucket, key } = parseS3Uri(uri);
    const input: PutObjectCommandInput = {
      Bucket: bucket,
      Key: key,
      Body: body,
      ContentLength: size,
      ContentType: 'application/octet-stream',
      Metadata: metadata,
    };
    if (condition.ifNoneMatch === '*') input.IfNoneMatch = '*';
    if (condition.ifMatch !== undefined) input.IfMatch = this.#ifMatchValue(condition.ifMatch);
    const res = await this.client.send(new PutObjectCommand(input));
    return res.ETag ?? '';
  }

  async #multipart(
    uri: string,
    body: Buffer | Readable,
    size: number,
    metadata: Record<string, string>,
  ): Promise<string> {
    const { bucket, key } = parseS3Uri(uri);
    const upload = new Upload({
      client: this.#partRetryingClient(uri, metadata[WRITE_ID_KEY] ?? ''),
      params: {
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentLength: size,
        ContentType: 'application/octet-stream',
        Metadata: metadata,
      },
      partSize: this.config.partSizeBytes,
      queueSize: this.config.uploadConcurrency,
      leavePartsOnError: false, // a failed attempt aborts its multipart upload: no orphaned parts
    });
    let res: Awaited<ReturnType<typeof upload.done>>;
    try {
      res = await upload.done();
    } catch (error) {
      // The multipart upload vanished under us (aborted after another part failed for good):
      // start the whole upload again rather than report a 404 for an object we are writing.
      if (errorName(error) === 'NoSuchUpload')
        throw new TransientError(`${uri}: multipart upload was aborted`, { cause: error });
      throw error;
    }
    return res.ETag ?? '';
  }

  /**
   * The client lib-storage gets: every request it sends (create, each part, complete, abort) is
   * retried on its own under retry.ts, so one reset costs one part, not the whole upload.
   * Parts are Buffers cut by lib-storage, so they can be sent again.
   */
  #partRetryingClient(uri: string, writeId: string): S3Client {
    const client = this.client;
    const send = async (command: { constructor: { name: string } }, options?: unknown): Promise<unknown> =>
      this.#retry(`s3 ${command.constructor.name.replace(/Command$/, '')} ${uri}`, async (attempt) => {
        try {
          return await (client.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, options);
        } catch (error) {
          // A completion that landed but whose answer was lost: the retry finds the upload gone.
          // If the object there carries our write token, the upload did complete.
          if (attempt > 1 && command instanceof CompleteMultipartUploadCommand && errorName(error) === 'NoSuchUpload') {
            const there = await this.#headRaw(uri);
            if (there?.metadata[WRITE_ID_KEY] === writeId) return { ETag: there.etag, $metadata: {} };
          }
          throw error;
        }
      });
    return new Proxy(client, {
      get: (target, property) => (property === 'send' ? send : Reflect.get(target, property, target)),
    });
  }

  #ifMatchValue(etag: string): string {
    const bare = etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
    return this.config.ifMatchQuoting === 'quoted' ? `"${bare}"` : bare;
  }
}

// -------------------------------------------------------------------------------------------------

/** The version tag handed out: the server's ETag plus the write token of memocall's writes. */
function versionTag(serverEtag: string | undefined, metadata: Record<string, string> | undefined): string {
  const writeId = metadata?.[WRITE_ID_KEY];
  return writeId ? `${serverEtag ?? ''}#${writeId}` : (serverEtag ?? '');
}

/** Inverse of versionTag; a plain ETag (another tool's object) has no token. */
function splitVersionTag(tag: string): { etag: string; writeId?: string } {
  const m = /^(.*)#([0-9a-f-]{36})$/.exec(tag);
  return m?.[1] !== undefined && m[2] !== undefined ? { etag: m[1], writeId: m[2] } : { etag: tag };
}

function errorName(error: unknown): string | undefined {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : undefined;
}

function isMissingObject(error: unknown): boolean {
  const name = errorName(error);
  // A missing bucket is a configuration problem, not an absent object: let it surface.
  if (name === 'NoSuchBucket') return false;
  return httpStatusOf(error) === 404 || name === 'NoSuchKey' || name === 'NotFound';
}

/**
 * Whether a failed write was refused by its condition: true, false, or 'retry' for AWS's 409
 * ConditionalRequestConflict (two conditional writes raced; AWS asks to retry, and the retry
 * then sees the winner and fails with 412).
 */
function isConditionFailure(error: unknown, condition: PutOptions): boolean | 'retry' {
  if (!condition.ifNoneMatch && condition.ifMatch === undefined) return false;
  const status = httpStatusOf(error);
  if (status === 412 || errorName(error) === 'PreconditionFailed') return true;
  if (status === 409) return 'retry';
  // AWS answers If-Match on an absent key with 404: the expected version is not there.
  if (condition.ifMatch !== undefined && isMissingObject(error)) return true;
  return false;
}
