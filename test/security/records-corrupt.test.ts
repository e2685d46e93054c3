// Issue 10, findings 12 and 9 (record half): anyone who can write to the store can leave a record
// memocall never wrote (a crash, a buggy version, a hostile job). Every such record is corruption:
// a MEMOCALL_CORRUPT_RECORD warning naming the URI, a miss for `result` (the call runs again and
// replaces it by compare-and-swap), absence for `error`; never a raw TypeError, a wrong value or a
// memo URI blocked until someone deletes the file by hand.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { lookupBlobStore, MemoizingRunner, useRunner } from '../../src/index.js';
import { IntegrityError } from '../../src/blobstore/cloud/integrity.js';
import { encodeCanonical } from '../../src/core/canonical-encode.js';
import { KEY_FORMAT_VERSION } from '../../src/core/key-format.js';
import { runInvocation } from '../../src/execute/remote-entry.js';
import { CorruptRecordError, isCorruption, RecordPathBlockedError } from '../../src/protocol/corrupt-record.js';
import { decodeErrorRecord, encodeErrorRecord } from '../../src/protocol/error-record.js';
import { decodeInvocation } from '../../src/protocol/invocation-record.js';
import { memoFile } from '../../src/protocol/memo-uri.js';
import { decodeResultRecord, encodeResult } from '../../src/protocol/result-record.js';
import { add } from '../fixtures/subprocess-functions.js';
import { asNewProcess } from '../support/fresh-process.js';
import { TEST_CONTAINER, azureServer, skipRequested } from '../support/servers.js';
import { useTempDir } from '../support/temp-dir.js';
import { useCorruptRecordWarnings } from './records-warnings.js';

const tempDir = useTempDir();

/** MEMOCALL_CORRUPT_RECORD warnings emitted while a test runs. */
const { warnedAbout } = useCorruptRecordWarnings();
afterEach(() => asNewProcess());

const validResult = encodeResult(5, { runId: 'r', writerId: 'w', functionId: 'f', finishedAt: 'now' }).record;

/** Results memocall never writes: each must be a miss, never a value or a raw error. */
const hostileResults: Record<string, Uint8Array> = {
  'not CBOR': new Uint8Array([0xff, 0x00, 0x13, 0x37]),
  empty: new Uint8Array(0),
  'torn (half a record)': validResult.subarray(0, Math.floor(validResult.byteLength / 2)),
  null: encodeCanonical(null, 'plant'),
  'a number': encodeCanonical(42, 'plant'),
  'value not bytes': encodeCanonical({ value: 6, runId: 'r', writerId: 'w', functionId: 'f', finishedAt: 'now' }, 'p'),
  'fields missing': encodeCanonical({ value: new Uint8Array([6]) }, 'plant'),
};

/** Errors memocall never writes: each must count as no error at all. */
const hostileErrors: Record<string, Uint8Array> = {
  'not CBOR': new Uint8Array([0xfe, 0xfe]),
  'error null': encodeCanonical({ error: null, runId: 'r', writerId: 'w', functionId: 'f', finishedAt: 'n' }, 'p'),
  'a cause that is a number': encodeCanonical(
    { error: { name: 'E', message: 'm', cause: 5 }, runId: 'r', writerId: 'w', functionId: 'f', finishedAt: 'n' },
    'p',
  ),
  'message not a string': encodeCanonical(
    { error: { name: 'E', message: { toString: 1 } }, runId: 'r', writerId: 'w', functionId: 'f', finishedAt: 'n' },
    'p',
  ),
};

function rootOf(kind: 'file' | 'memory'): string {
  return kind === 'file' ? tempDir().uri : `memory://records-${randomBytes(4).toString('hex')}`;
}

function doubler(root: string, opts: { rerunErrors?: boolean } = {}) {
  let runs = 0;
  const fn = useRunner(
    new MemoizingRunner({ blobRoot: root, leaseTtlMs: 2_000, waitInitialMs: 20, waitMaxMs: 100, ...opts }),
    async function double(x: number) {
      runs++;
      return x * 2;
    },
    { id: 'security/double' },
  );
  return { fn, runs: () => runs };
}

for (const kind of ['file', 'memory'] as const) {
  describe(`on ${kind}://`, () => {
    for (const [name, bytes] of Object.entries(hostileResults)) {
      test(`a corrupt result (${name}) is a miss: the call runs, returns the right value, replaces the record and warns`, async () => {
        const { fn, runs } = doubler(rootOf(kind));
        const memoUri = await fn.memoUri(3);
        const store = lookupBlobStore(memoUri);
        await store.put(memoFile.result(memoUri), bytes);

        expect(await fn(3)).toBe(6);
        expect(runs()).toBe(1);
        expect((await warnedAbout(memoFile.result(memoUri))).message).toMatch(/miss/);
        // Replaced through the conditional write: a fresh process now hits without running.
        expect(decodeResultRecord(await store.get(memoFile.result(memoUri))).value).toEqual(encodeCanonical(6, 'v'));
        asNewProcess();
        expect(await fn(3)).toBe(6);
        expect(runs()).toBe(1);
      });
    }

    for (const [name, bytes] of Object.entries(hostileErrors)) {
      test(`a corrupt error (${name}) is no error, even with rerunErrors: false: the call runs`, async () => {
        const { fn, runs } = doubler(rootOf(kind), { rerunErrors: false });
        const memoUri = await fn.memoUri(4);
        await lookupBlobStore(memoUri).put(memoFile.error(memoUri), bytes);
        expect(await fn(4)).toBe(8);
        expect(runs()).toBe(1);
        await warnedAbout(memoFile.error(memoUri));
      });
    }

    test('a valid stored error is still re-thrown with rerunErrors: false (validation keeps what memocall wrote)', async () => {
      const { fn, runs } = doubler(rootOf(kind), { rerunErrors: false });
      const memoUri = await fn.memoUri(5);
      const record = {
        error: { name: 'QuotaError', message: 'full', cause: { value: 3 } },
        runId: 'r',
        writerId: 'w',
        functionId: 'f',
        finishedAt: 'n',
      };
      await lookupBlobStore(memoUri).put(memoFile.error(memoUri), encodeErrorRecord(record));
      await expect(fn(5)).rejects.toMatchObject({ name: 'QuotaError', message: 'full', cause: 3 });
      expect(runs()).toBe(0);
    });
  });
}

describe('the remote entry', () => {
  test('a corrupt result is not "already done": a subprocess run replaces it (file://)', async () => {
    const { dir, uri } = tempDir();
    const log = path.join(dir, 'executions.log');
    writeFileSync(log, '');
    process.env.MEMOCALL_TEST_ROOT = uri;
    process.env.MEMOCALL_TEST_LOG = log;
    const memoUri = await add.memoUri(20, 22);
    await lookupBlobStore(memoUri).put(memoFile.result(memoUri), hostileResults['not CBOR']!);
    expect((await add(20, 22)).sum).toBe(42);
    asNewProcess();
    expect((await add(20, 22)).sum).toBe(42);
    expect(decodeResultRecord(await lookupBlobStore(memoUri).get(memoFile.result(memoUri))).functionId).toBeTruthy();
  }, 120_000);

  test('a corrupt invocation is a BadInvocationError naming it (and a warning), never a raw TypeError', async () => {
    const root = `memory://records-${randomBytes(4).toString('hex')}`;
    const memoUri = `${root}/${KEY_FORMAT_VERSION}/default/security--inv/k`;
    const store = lookupBlobStore(memoUri);
    await store.put(
      memoFile.invocation(memoUri),
      encodeCanonical(
        { format: KEY_FORMAT_VERSION, memo: { blobRoot: 5 }, functionId: 'f', moduleId: 'm', args: new Uint8Array() },
        'p',
      ),
    );
    const failed = await runInvocation({ memoUri, writerId: undefined }).catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: 'MEMOCALL_BAD_INVOCATION' });
    expect((failed as Error).message).toContain('memo.blobRoot');
    await warnedAbout(memoFile.invocation(memoUri));
  });

  test('decoders name the bad field: CorruptRecordError, code MEMOCALL_CORRUPT_RECORD', () => {
    const bad = encodeCanonical({ format: KEY_FORMAT_VERSION, memo: {}, functionId: 'f' }, 'p');
    expect(() => decodeInvocation(bad, 'memory://x/inv')).toThrow(CorruptRecordError);
    expect(() => decodeResultRecord(hostileResults.null!, 'memory://x/result')).toThrow(/not a record: null/);
    expect(() => decodeErrorRecord(hostileErrors['a cause that is a number']!)).toThrow(/error\.cause/);
  });
});

describe('a non-object at the result path (file://)', () => {
  test('a directory at `result` is a clear RecordPathBlockedError, not a loop', async () => {
    const { fn } = doubler(tempDir().uri);
    const memoUri = await fn.memoUri(7);
    mkdirSync(path.join(fileURLToPath(memoUri), 'result', 'x'), { recursive: true });
    await expect(fn(7)).rejects.toBeInstanceOf(RecordPathBlockedError);
  });
});

describe('store-level integrity', () => {
  test('an IntegrityError from a store (checksum mismatch) counts as corruption', () => {
    expect(isCorruption(new IntegrityError('memory://x/result', 'a', 'b'))).toBe(true);
    expect(isCorruption(new Error('disk on fire'))).toBe(false);
  });
});

describe.skipIf(skipRequested('azure'))('on Azure (azurite): a result whose bytes fail the stored sha256', () => {
  test('is a miss: the call runs, replaces it by compare-and-swap, and the next process hits', async () => {
    const azure = await azureServer();
    process.env.AZURE_STORAGE_CONNECTION_STRING = azure.connectionString;
    const root = `adls://${azure.account}/${TEST_CONTAINER}/records-${randomBytes(4).toString('hex')}`;
    const { fn, runs } = doubler(root);
    expect(await fn(9)).toBe(18);
    const memoUri = await fn.memoUri(9);
    // Tamper with the blob out of band, keeping memocall's metadata (its sha256) as it was.
    const { BlobServiceClient } = await import('@azure/storage-blob');
    const name = memoFile.result(memoUri).slice(`adls://${azure.account}/${TEST_CONTAINER}/`.length);
    const blob = BlobServiceClient.fromConnectionString(azure.connectionString)
      .getContainerClient(TEST_CONTAINER)
      .getBlockBlobClient(name);
    const { metadata } = await blob.getProperties();
    const tampered = encodeResult(1_000_000, { runId: 'r', writerId: 'w', functionId: 'f', finishedAt: 'n' }).record;
    await blob.upload(tampered, tampered.byteLength, { metadata: metadata ?? {} });

    asNewProcess();
    expect(await fn(9)).toBe(18); // never the tampered 1 000 000
    expect(runs()).toBe(2);
    await warnedAbout(memoFile.result(memoUri));
    asNewProcess();
    expect(await fn(9)).toBe(18);
    expect(runs()).toBe(2);
  }, 120_000);
});
