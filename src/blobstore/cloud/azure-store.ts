import { randomUUID } from 'node:crypto';
import { concatChunks } from '../../core/concat-chunks.js';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  AnonymousCredential,
  BlobServiceClient,
  StorageSharedKeyCredential,
  type BlobDownloadResponseParsed,
  type BlockBlobClient,
  type ContainerClient,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import type { TokenCredential } from '@azure/core-auth';
import type { Readable } from 'node:stream';
import { LocalFileChangedError } from '../../core/local-file-changed-error.js';
import { importOptionalDependency } from '../../core/optional-dependency.js';
import { sha256Hex } from '../../core/sha256.js';
import { checkKeyPrefix, checkObjectKey } from '../object-key.js';
import { tempSiblingPath } from '../local/atomic-local-file.js';
import type { BlobHead, BlobStore, PutOptions, VersionedBlob } from '../blob-store.js';
import { BlobNotFoundError, PreconditionFailedError, UnsupportedUriError } from '../errors.js';
import {
  AZURE_SHA256_KEY,
  withSha256,
  FrontierFileHasher,
  ObjectChangedError,
  Sha256Accumulator,
  downloadVerified,
  verifySha256,
} from './integrity.js';
import { MIB, httpStatusOf, responseBody, retryIntegrityOnce, totalSizeOf } from './cloud-kit.js';
import { StallWatchdog, TransientError, withRetries, type FailureKind, type RetryOptions } from './retry.js';

/**
 * Azure Blob Storage objects through @azure/storage-blob. URIs:
 *   adls://account/container/path
 *   https://account.blob.core.windows.net/container/path
 *   http(s)://127.0.0.1:port/account/container/path   (azurite and other path-style emulators)
 */

/** Metadata key of the per-call write token that lets a retried conditional write recognise itself. */
const WRITE_ID_KEY = 'memocall_write_id';

/**
 * What memocall needs of an Azure token credential (the shape of @azure/core-auth's
 * `TokenCredential`), declared here so that memocall's public types need no Azure package
 * installed: `new DefaultAzureCredential()` and every other @azure/identity credential fit.
 */
export interface AzureTokenCredential {
  getToken(scopes: string | string[], options?: object): Promise<{ token: string; expiresOnTimestamp: number } | null>;
}

export interface AzureStoreOptions {
  /**
   * Blob service URL of the account, e.g. `https://acct.blob.core.windows.net` or
   * `http://127.0.0.1:10000/devstoreaccount1`; `{account}` is replaced by the URI's account.
   * Default: the connection string's BlobEndpoint, else env `MEMOCALL_AZURE_BLOB_ENDPOINT`, else
   * `https://{account}.blob.core.windows.net`. URIs of the http(s) forms carry their own.
   */
  endpoint?: string;
  /** Default env `AZURE_STORAGE_CONNECTION_STRING`. Used when its account is the URI's account. */
  connectionString?: string;
  /** SAS token (with or without the leading `?`). Default env `AZURE_STORAGE_SAS_TOKEN`. */
  sasToken?: string;
  /** Shared account key. Default env `AZURE_STORAGE_KEY`, else `AZURE_STORAGE_ACCOUNT_KEY`. */
  accountKey?: string;
  /**
   * Token credential. Default: `DefaultAzureCredential` from @azure/identity, loaded only when
   * none of connection string, SAS or key applies.
   */
  credential?: AzureTokenCredential;
  /** Block size of staged uploads and of ranged downloads. Default 8 MiB. */
  blockSizeBytes?: number;
  /** Blocks staged at once; memory is about `blockSizeBytes × uploadConcurrency`. Default 8. */
  uploadConcurrency?: number;
  /** Ranged downloads in flight for `getFile`. Default 8. */
  downloadConcurrency?: number;
  /**
   * A download body with no bytes for this long, or a request (a whole block upload included)
   * not answered within it, is cut and retried. Default 30_000 ms: an 8 MiB block then needs at
   * least ~0.3 MB/s. The SDK has no idle timeout of its own, hence this watchdog.
   */
  stallTimeoutMs?: number;
  /** Retry policy (see retry.ts for defaults). */
  retry?: RetryOptions;
  /** Refuse blobs that carry no sha256 metadata (not written by memocall). Default false. */
  requireIntegrity?: boolean;
  /** Environment to read defaults from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

export interface AzureLocation {
  /** Blob service URL of the account (no trailing slash). */
  serviceUrl: string;
  account: string;
  container: string;
  /** Blob name inside the container ('' for a container-level list prefix). */
  blobName: string;
  /** What precedes the blob name in this URI's form, so listings answer in the same form. */
  uriPrefix: string;
}

const LOOPBACK_HOST = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|host\.docker\.internal)$/i;

/** Parses the three URI forms. `allowEmptyBlob` for list prefixes. */
export function parseAzureUri(uri: string, options: AzureStoreOptions = {}, allowEmptyBlob = false): AzureLocation {
  let account: string;
  let rest: string;
  let serviceUrl: string | undefined;
  let base: string;
  const adls = /^adls:\/\/([^/]+)\/(.*)$/s.exec(uri) ?? /^adls:\/\/([^/]+)$/s.exec(uri);
  if (adls) {
    account = adls[1] ?? '';
    rest = adls[2] ?? '';
    base = `adls://${account}/`;
  } else {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new UnsupportedUriError(
        uri,
        'expected adls://account/container/path or https://account.blob.core.windows.net/container/path',
      );
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new UnsupportedUriError(uri, 'not an Azure blob URI');
    if (url.search || url.hash)
      throw new UnsupportedUriError(uri, 'query strings (SAS) belong in AZURE_STORAGE_SAS_TOKEN, not in the URI');
    const path = uri.slice(url.origin.length + 1);
    const hostAccount = /^([a-z0-9]+)\.blob\.core\.windows\.net$/i.exec(url.hostname);
    if (hostAccount) {
      account = hostAccount[1] ?? '';
      rest = path;
      serviceUrl = url.origin;
      base = `${url.origin}/`;
    } else if (LOOPBACK_HOST.test(url.hostname)) {
      const slash = path.indexOf('/');
      account = slash < 0 ? path : path.slice(0, slash);
      rest = slash < 0 ? '' : path.slice(slash + 1);
      serviceUrl = `${url.origin}/${account}`;
      base = `${serviceUrl}/`;
    } else {
      throw new UnsupportedUriError(uri, 'host is neither *.blob.core.windows.net nor a loopback emulator');
    }
  }
  if (!/^[a-z0-9]{3,24}$/.test(account))
    throw new UnsupportedUriError(uri, `'${account}' is not a storage account name`);
  const slash = rest.indexOf('/');
  const container = slash < 0 ? rest : rest.slice(0, slash);
  const blobName = slash < 0 ? '' : rest.slice(slash + 1);
  if (!/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/.test(container)) {
    throw new UnsupportedUriError(uri, `'${container}' is not a container name`);
  }
  if (blobName === '' && !allowEmptyBlob) throw new UnsupportedUriError(uri, 'no blob name after the container');
  if (allowEmptyBlob) checkKeyPrefix(uri, blobName);
  else checkObjectKey(uri, blobName);
  return {
    serviceUrl: serviceUrl ?? resolveAzureEndpoint(account, options),
    account,
    container,
    blobName,
    uriPrefix: `${base}${container}/`,
  };
}

function resolveAzureEndpoint(account: string, options: AzureStoreOptions): string {
  const env = options.env ?? process.env;
  const cs = parseConnectionString(options.connectionString ?? env.AZURE_STORAGE_CONNECTION_STRING);
  const fromCs = cs && connectionStringAccount(cs) === account ? cs.BlobEndpoint : undefined;
  const template =
    options.endpoint ??
    fromCs ??
    nonEmpty(env.MEMOCALL_AZURE_BLOB_ENDPOINT) ??
    'https://{account}.blob.core.windows.net';
  return template.replaceAll('{account}', account).replace(/\/+$/, '');
}

type ConnectionString = Record<string, string>;

function parseConnectionString(value: string | undefined): ConnectionString | undefined {
  if (nonEmpty(value) === undefined) return undefined;
  const out: ConnectionString = {};
  for (const part of (value as string).split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

function connectionStringAccount(cs: ConnectionString): string | undefined {
  if (cs.UseDevelopmentStorage === 'true') return 'devstoreaccount1';
  if (cs.AccountName) return cs.AccountName;
  const host = cs.BlobEndpoint ? /^https?:\/\/([a-z0-9]+)\.blob\./i.exec(cs.BlobEndpoint) : null;
  if (host?.[1]) return host[1];
  const path = cs.BlobEndpoint ? /^https?:\/\/[^/]+\/([a-z0-9]+)\/?$/i.exec(cs.BlobEndpoint) : null;
  return path?.[1];
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** Which credential an account gets, for diagnostics and tests. */
export type AzureCredentialKind =
  | 'connection-string'
  | 'sas'
  | 'account-key'
  | 'token-credential'
  | 'default-azure-credential';

/**
 * Picks the credential for one account, first that applies: connection string (same account),
 * SAS token, account key (when `AZURE_STORAGE_ACCOUNT`, if set, names this account), an explicit
 * token credential, DefaultAzureCredential.
 */
export function chooseAzureCredential(account: string, options: AzureStoreOptions = {}): AzureCredentialKind {
  const env = options.env ?? process.env;
  const cs = parseConnectionString(options.connectionString ?? env.AZURE_STORAGE_CONNECTION_STRING);
  if (cs && connectionStringAccount(cs) === account) return 'connection-string';
  const named = nonEmpty(env.AZURE_STORAGE_ACCOUNT);
  const forThisAccount = named === undefined || named === account;
  if (options.sasToken ?? (forThisAccount ? nonEmpty(env.AZURE_STORAGE_SAS_TOKEN) : undefined)) return 'sas';
  if (
    options.accountKey ??
    (forThisAccount ? (nonEmpty(env.AZURE_STORAGE_KEY) ?? nonEmpty(env.AZURE_STORAGE_ACCOUNT_KEY)) : undefined)
  ) {
    return 'account-key';
  }
  if (options.credential) return 'token-credential';
  return 'default-azure-credential';
}

export class AzureStore implements BlobStore {
  readonly options: AzureStoreOptions;
  readonly #blockSize: number;
  readonly #uploadConcurrency: number;
  readonly #downloadConcurrency: number;
  readonly #stallMs: number;
  readonly #requireIntegrity: boolean;
  readonly #services = new Map<string, Promise<BlobServiceClient>>();

  constructor(options: AzureStoreOptions = {}) {
    this.options = options;
    this.#blockSize = Math.max(64 * 1024, options.blockSizeBytes ?? 8 * MIB);
    this.#uploadConcurrency = Math.max(1, options.uploadConcurrency ?? 8);
    this.#downloadConcurrency = Math.max(1, options.downloadConcurrency ?? 8);
    this.#stallMs = options.stallTimeoutMs ?? 30_000;
    this.#requireIntegrity = options.requireIntegrity ?? false;
  }

  parse(uri: string, allowEmptyBlob = false): AzureLocation {
    return parseAzureUri(uri, this.options, allowEmptyBlob);
  }

  async get(uri: string): Promise<Uint8Array> {
    return (await this.getVersioned(uri)).data;
  }

  async getVersioned(uri: string): Promise<VersionedBlob> {
    const blob = await this.#blob(uri);
    return this.#retry(
      `azure get ${uri}`,
      () =>
        this.#attempt(`azure get ${uri}`, async (watchdog) => {
          const res = await this.#notFound(uri, () =>
            blob.download(0, undefined, { abortSignal: watchdog.signal, maxRetryRequests: 0 }),
          );
          const acc = new Sha256Accumulator();
          const chunks: Uint8Array[] = [];
          for await (const chunk of responseBody(
            res.readableStreamBody as Readable | undefined,
            `azure get ${uri}`,
            watchdog,
          )) {
            acc.update(chunk);
            chunks.push(chunk);
          }
          const size = res.contentLength ?? acc.bytes;
          if (acc.bytes !== size) throw new TransientError(`${uri}: body ended after ${acc.bytes} of ${size} bytes`);
          verifySha256(uri, res.metadata?.[AZURE_SHA256_KEY], acc.digestHex(), this.#requireIntegrity);
          return {
            data: concatChunks(chunks),
            etag: res.etag ?? '',
            size,
            lastModified: res.lastModified ?? new Date(0),
          };
        }),
      retryIntegrityOnce,
    );
  }

  /** Bytes [start, end) of the current version. Not verified: integrity covers whole objects. */
  async getRange(uri: string, start: number, end: number): Promise<Uint8Array> {
    if (end <= start) return new Uint8Array(0);
    const blob = await this.#blob(uri);
    return this.#retry(`azure get range ${start}-${end - 1} ${uri}`, () =>
      this.#attempt(`azure get range ${uri}`, async (watchdog) => {
        const res = await this.#notFound(uri, () =>
          blob.download(start, end - start, { abortSignal: watchdog.signal, maxRetryRequests: 0 }),
        );
        const chunks: Uint8Array[] = [];
        for await (const chunk of responseBody(
          res.readableStreamBody as Readable | undefined,
          `azure get ${uri}`,
          watchdog,
        )) {
          chunks.push(chunk);
        }
        return concatChunks(chunks);
      }),
    );
  }

  async head(uri: string): Promise<BlobHead | null> {
    const raw = await this.#headRaw(uri);
    return raw === null
      ? null
      : withSha256({ size: raw.size, etag: raw.etag, lastModified: raw.lastModified }, raw.metadata[AZURE_SHA256_KEY]);
  }

  async put(uri: string, data: Uint8Array, opts: PutOptions = {}): Promise<{ etag: string }> {
    const blob = await this.#blob(uri);
    const sha256 = sha256Hex(data);
    const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return this.#conditionalPut(uri, opts, async (writeId, conditions) => {
      const metadata = { [AZURE_SHA256_KEY]: sha256, [WRITE_ID_KEY]: writeId };
      if (data.byteLength <= this.#blockSize) return this.#putBlob(uri, blob, body, metadata, conditions);
      // Stage from the buffer (subarrays, no copies), then commit atomically.
      let offset = 0;
      return this.#stagedUpload(uri, blob, metadata, conditions, async () => {
        if (offset >= body.byteLength) return null;
        const block = body.subarray(offset, Math.min(body.byteLength, offset + this.#blockSize));
        offset += block.byteLength;
        return block;
      });
    });
  }

  async putFile(localPath: string, uri: string, opts: PutOptions = {}): Promise<{ etag: string }> {
    const blob = await this.#blob(uri);
    const before = await stat(localPath);
    let result: { etag: string };
    if (before.size <= this.#blockSize) {
      const data = await readFile(localPath);
      if (data.byteLength !== before.size) throw new LocalFileChangedError(localPath, `while being uploaded to ${uri}`);
      const sha256 = sha256Hex(data);
      result = await this.#conditionalPut(uri, opts, (writeId, conditions) =>
        this.#putBlob(uri, blob, data, { [AZURE_SHA256_KEY]: sha256, [WRITE_ID_KEY]: writeId }, conditions),
      );
    } else {
      // Azure takes metadata when the block list is committed, at the end: a worker thread
      // hashes the file while the blocks are staged, and the commit waits for its digest. No
      // hashing pass before the upload, and none on the thread that drives the sockets.
      // Each attempt re-reads the file.
      result = await this.#conditionalPut(uri, opts, async (writeId, conditions) => {
        const fh = await open(localPath, 'r');
        const hasher = new FrontierFileHasher(localPath);
        try {
          const digest = hasher.finish(before.size);
          digest.catch(() => undefined); // awaited before the commit; never unhandled
          const metadata: Record<string, string> = { [WRITE_ID_KEY]: writeId };
          let offset = 0;
          // Staged blocks come back here for reuse: memory is uploadConcurrency blocks, whatever
          // the file size, without waiting for the garbage collector to free external memory.
          const free: Buffer[] = [];
          const nextBlock = async (): Promise<Buffer | null> => {
            if (offset >= before.size) return null;
            const length = Math.min(this.#blockSize, before.size - offset);
            const buf = (free.pop() ?? Buffer.allocUnsafe(this.#blockSize)).subarray(0, length);
            let filled = 0;
            while (filled < buf.byteLength) {
              const { bytesRead } = await fh.read(buf, filled, buf.byteLength - filled, offset + filled);
              if (bytesRead === 0) throw new LocalFileChangedError(localPath, `while being uploaded to ${uri}`);
              filled += bytesRead;
            }
            offset += filled;
            return buf;
          };
          const release = (block: Buffer): void => {
            free.push(Buffer.from(block.buffer, block.byteOffset, this.#blockSize));
          };
          return await this.#stagedUpload(
            uri,
            blob,
            metadata,
            conditions,
            nextBlock,
            async () => {
              const { sha256, size } = await digest;
              if (size !== before.size) throw new LocalFileChangedError(localPath, `while being uploaded to ${uri}`);
              metadata[AZURE_SHA256_KEY] = sha256;
            },
            release,
          );
        } finally {
          await hasher.close();
          await fh.close();
        }
      });
    }
    const after = await stat(localPath);
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs)
      throw new LocalFileChangedError(localPath, `while being uploaded to ${uri}`);
    return result;
  }

  async getFile(uri: string, localPath: string): Promise<void> {
    const blob = await this.#blob(uri);
    await mkdir(dirname(localPath), { recursive: true });
    const tempPath = tempSiblingPath(localPath);
    try {
      await this.#retry(
        `azure getFile ${uri}`,
        async () => {
          const watchdog = new StallWatchdog(`azure get ${uri}`, this.#stallMs);
          let first: BlobDownloadResponseParsed;
          try {
            first = await this.#notFound(uri, () =>
              blob.download(0, this.#blockSize, { abortSignal: watchdog.signal, maxRetryRequests: 0 }),
            );
          } catch (error) {
            watchdog.dispose();
            // An empty blob has no byte 0: read it whole.
            if (httpStatusOf(error) === 416) {
              const whole = await this.getVersioned(uri);
              const fh = await open(tempPath, 'w');
              await fh.close();
              if (whole.size !== 0) throw new ObjectChangedError(uri);
              return;
            }
            throw watchdog.translate(error);
          }
          const etag = first.etag ?? '';
          const size = totalSizeOf(first.contentRange, first.contentLength, uri);
          try {
            await downloadVerified({
              uri,
              tempPath,
              size,
              partSize: this.#blockSize,
              concurrency: this.#downloadConcurrency,
              firstBody: responseBody(first.readableStreamBody as Readable | undefined, `azure get ${uri}`, watchdog),
              storedSha256: first.metadata?.[AZURE_SHA256_KEY],
              requireIntegrity: this.#requireIntegrity,
              retryPart: (what, attempt) => this.#retry(`azure get ${what}`, attempt),
              fetchRange: async (start, end) => {
                const w = new StallWatchdog(`azure get ${uri}`, this.#stallMs);
                try {
                  const res = await blob.download(start, end - start, {
                    abortSignal: w.signal,
                    maxRetryRequests: 0,
                    conditions: { ifMatch: etag },
                  });
                  return disposeAfter(
                    responseBody(res.readableStreamBody as Readable | undefined, `azure get ${uri}`, w),
                    w,
                  );
                } catch (error) {
                  w.dispose();
                  if (httpStatusOf(error) === 412 || httpStatusOf(error) === 404)
                    throw new ObjectChangedError(uri, { cause: error });
                  throw w.translate(error);
                }
              },
            });
          } finally {
            watchdog.dispose();
            first.readableStreamBody?.destroy();
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

  async *list(prefix: string): AsyncIterable<string> {
    const location = this.parse(prefix, true);
    const container = await this.#container(location);
    let token: string | undefined;
    do {
      const page = await this.#retry(`azure list ${prefix}`, () =>
        this.#attempt(`azure list ${prefix}`, async (watchdog) => {
          const pages = container
            .listBlobsFlat({ prefix: location.blobName, abortSignal: watchdog.signal })
            .byPage({ maxPageSize: 1000, ...(token !== undefined ? { continuationToken: token } : {}) });
          const next = await pages.next();
          return next.done ? undefined : next.value;
        }),
      );
      for (const item of page?.segment.blobItems ?? []) yield `${location.uriPrefix}${item.name}`;
      token = page?.continuationToken || undefined;
    } while (token !== undefined);
  }

  async delete(uri: string): Promise<void> {
    const blob = await this.#blob(uri);
    await this.#retry(`azure delete ${uri}`, () =>
      this.#attempt(`azure delete ${uri}`, async (watchdog) => {
        await blob.deleteIfExists({ abortSignal: watchdog.signal });
      }),
    );
  }

  // ---------------------------------------------------------------------------------------------

  #retry<T>(
    what: string,
    attempt: (n: number) => Promise<T>,
    classify?: (e: unknown, n: number) => FailureKind | undefined,
  ): Promise<T> {
    return withRetries(what, attempt, { ...this.options.retry, ...(classify ? { classify } : {}) });
  }

  /** One attempt under a stall watchdog whose signal the attempt passes to every request. */
  async #attempt<T>(what: string, run: (watchdog: StallWatchdog) => Promise<T>): Promise<T> {
    const watchdog = new StallWatchdog(what, this.#stallMs);
    try {
      return await run(watchdog);
    } catch (error) {
      throw watchdog.translate(error);
    } finally {
      watchdog.dispose();
    }
  }

  async #notFound<T>(uri: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (isMissingBlob(error)) throw new BlobNotFoundError(uri, { cause: error });
      throw error;
    }
  }

  async #blob(uri: string): Promise<BlockBlobClient> {
    const location = this.parse(uri);
    return (await this.#container(location)).getBlockBlobClient(location.blobName);
  }

  async #container(location: AzureLocation): Promise<ContainerClient> {
    let service = this.#services.get(location.serviceUrl);
    if (!service) {
      service = this.#createService(location);
      this.#services.set(location.serviceUrl, service);
      service.catch(() => this.#services.delete(location.serviceUrl));
    }
    return (await service).getContainerClient(location.container);
  }

  async #createService(location: AzureLocation): Promise<BlobServiceClient> {
    const env = this.options.env ?? process.env;
    // retry.ts is the one retry policy: the SDK's own would multiply attempts and go unlogged.
    const pipeline: StoragePipelineOptions = { retryOptions: { maxTries: 1 }, keepAliveOptions: { enable: true } };
    const kind = chooseAzureCredential(location.account, this.options);
    switch (kind) {
      case 'connection-string':
        return BlobServiceClient.fromConnectionString(
          (this.options.connectionString ?? env.AZURE_STORAGE_CONNECTION_STRING) as string,
          pipeline,
        );
      case 'sas': {
        const sas = (this.options.sasToken ?? env.AZURE_STORAGE_SAS_TOKEN ?? '').trim().replace(/^\?/, '');
        return new BlobServiceClient(`${location.serviceUrl}?${sas}`, new AnonymousCredential(), pipeline);
      }
      case 'account-key': {
        const key = (
          this.options.accountKey ??
          nonEmpty(env.AZURE_STORAGE_KEY) ??
          env.AZURE_STORAGE_ACCOUNT_KEY ??
          ''
        ).trim();
        return new BlobServiceClient(
          location.serviceUrl,
          new StorageSharedKeyCredential(location.account, key),
          pipeline,
        );
      }
      case 'token-credential':
        return new BlobServiceClient(location.serviceUrl, this.options.credential as TokenCredential, pipeline);
      case 'default-azure-credential': {
        const identity = await importOptionalDependency(
          '@azure/identity',
          `Azure account ${location.account} without AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_KEY (DefaultAzureCredential)`,
          () => import('@azure/identity'),
        );
        return new BlobServiceClient(location.serviceUrl, new identity.DefaultAzureCredential(), pipeline);
      }
    }
  }

  async #headRaw(uri: string): Promise<(BlobHead & { metadata: Record<string, string> }) | null> {
    const blob = await this.#blob(uri);
    return this.#retry(`azure head ${uri}`, () =>
      this.#attempt(`azure head ${uri}`, async (watchdog) => {
        try {
          const p = await blob.getProperties({ abortSignal: watchdog.signal });
          return {
            size: p.contentLength ?? 0,
            etag: p.etag ?? '',
            lastModified: p.lastModified ?? new Date(0),
            metadata: p.metadata ?? {},
          };
        } catch (error) {
          if (isMissingBlob(error)) return null;
          throw error;
        }
      }),
    );
  }

  /**
   * Runs one write under the retry policy. `write` puts `writeId` into the blob's metadata: when
   * an attempt failed in transport after the write landed, the retry fails the condition against
   * its own blob, and finding our token there means success, not conflict.
   */
  async #conditionalPut(
    uri: string,
    opts: PutOptions,
    write: (writeId: string, conditions: AzureConditions) => Promise<{ etag: string }>,
  ): Promise<{ etag: string }> {
    const condition: PutOptions =
      opts.ifNoneMatch === '*' ? { ifNoneMatch: '*' } : opts.ifMatch !== undefined ? { ifMatch: opts.ifMatch } : {};
    const conditions: AzureConditions = condition.ifNoneMatch
      ? { ifNoneMatch: '*' }
      : condition.ifMatch !== undefined
        ? { ifMatch: condition.ifMatch }
        : {};
    const writeId = randomUUID();
    return this.#retry(`azure put ${uri}`, async (attempt) => {
      try {
        return await write(writeId, conditions);
      } catch (error) {
        if (!isConditionFailure(error, condition)) throw error;
        if (attempt > 1) {
          const there = await this.#headRaw(uri);
          if (there?.metadata[WRITE_ID_KEY] === writeId) return { etag: there.etag };
        }
        throw new PreconditionFailedError(uri, condition, { cause: error });
      }
    });
  }

  async #putBlob(
    uri: string,
    blob: BlockBlobClient,
    body: Buffer,
    metadata: Record<string, string>,
    conditions: AzureConditions,
  ): Promise<{ etag: string }> {
    return this.#attempt(`azure put ${uri}`, async (watchdog) => {
      const res = await blob.upload(body, body.byteLength, {
        metadata,
        conditions,
        abortSignal: watchdog.signal,
        blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
      });
      return { etag: res.etag ?? '' };
    });
  }

  /**
   * Stages blocks from `nextBlock` with bounded parallelism (at most `uploadConcurrency` blocks
   * in memory), then commits the list with the metadata and condition: the blob changes
   * atomically at commit, so a conditional large write is as safe as a small one.
   * `beforeCommit` runs once every block is read (to complete metadata such as the digest).
   */
  async #stagedUpload(
    uri: string,
    blob: BlockBlobClient,
    metadata: Record<string, string>,
    conditions: AzureConditions,
    nextBlock: () => Promise<Buffer | null>,
    beforeCommit?: () => Promise<void>,
    releaseBlock?: (block: Buffer) => void,
  ): Promise<{ etag: string }> {
    const prefix = randomUUID().replaceAll('-', '');
    const ids: string[] = [];
    let failed = false;
    // Reads are chained so blocks come out of `nextBlock` in order, each with its index.
    let reading: Promise<unknown> = Promise.resolve();
    let nextIndex = 0;
    const readNext = (): Promise<{ index: number; block: Buffer } | null> => {
      const result = reading.then(async () => {
        const block = await nextBlock();
        return block === null ? null : { index: nextIndex++, block };
      });
      reading = result.catch(() => undefined);
      return result;
    };
    const worker = async (): Promise<void> => {
      while (!failed) {
        const next = await readNext();
        if (next === null) return;
        // Same-length ids (Azure requires it), unique per attempt so concurrent writers never mix.
        const id = Buffer.from(`${prefix}-${String(next.index).padStart(8, '0')}`).toString('base64');
        ids[next.index] = id;
        await this.#retry(`azure stage block ${next.index} of ${uri}`, () =>
          this.#attempt(`azure stage block ${uri}`, (watchdog) =>
            blob.stageBlock(id, next.block, next.block.byteLength, { abortSignal: watchdog.signal }),
          ),
        );
        releaseBlock?.(next.block); // only after success: a failed attempt may still be sending it
      }
    };
    const guarded = async (): Promise<void> => {
      try {
        await worker();
      } catch (error) {
        failed = true;
        throw error;
      }
    };
    const results = await Promise.allSettled(Array.from({ length: this.#uploadConcurrency }, guarded));
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected) throw rejected.reason;
    await beforeCommit?.();
    return this.#attempt(`azure commit ${uri}`, async (watchdog) => {
      const res = await blob.commitBlockList(ids, {
        metadata,
        conditions,
        abortSignal: watchdog.signal,
        blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
      });
      return { etag: res.etag ?? '' };
    });
  }
}

type AzureConditions = { ifNoneMatch?: string; ifMatch?: string };

// -------------------------------------------------------------------------------------------------

async function* disposeAfter(body: AsyncIterable<Uint8Array>, watchdog: StallWatchdog): AsyncIterable<Uint8Array> {
  try {
    yield* body;
  } finally {
    watchdog.dispose();
  }
}

function errorCode(error: unknown): string | undefined {
  const e = error as { code?: unknown; details?: { errorCode?: unknown } } | null;
  const code = e?.details?.errorCode ?? e?.code;
  return typeof code === 'string' ? code : undefined;
}

function isMissingBlob(error: unknown): boolean {
  // A missing container is a configuration problem, not an absent blob: let it surface.
  if (errorCode(error) === 'ContainerNotFound') return false;
  return httpStatusOf(error) === 404;
}

/** Azure refuses `ifNoneMatch: '*'` with 409 BlobAlreadyExists and `ifMatch` with 412. */
function isConditionFailure(error: unknown, condition: PutOptions): boolean {
  if (!condition.ifNoneMatch && condition.ifMatch === undefined) return false;
  const status = httpStatusOf(error);
  if (status === 412) return true;
  if (status === 409 && errorCode(error) === 'BlobAlreadyExists') return true;
  if (condition.ifMatch !== undefined && isMissingBlob(error)) return true;
  return false;
}
