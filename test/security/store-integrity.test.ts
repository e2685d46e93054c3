import fs from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { IntegrityError as CloudIntegrityError } from '../../src/blobstore/cloud/integrity.js';
import { IntegrityError } from '../../src/blobstore/errors.js';
import { FileBlobStore } from '../../src/blobstore/local/file-store.js';
import { HEADER_BYTES } from '../../src/blobstore/local/object-header.js';
import { MemoryBlobStore } from '../../src/blobstore/memory-store.js';
import { MemoizingRunner, lookupBlobStore, useRunner } from '../../src/index.js';
import { memoFile } from '../../src/protocol/memo-uri.js';
import { asNewProcess } from '../support/fresh-process.js';
import { useTempDir } from '../support/temp-dir.js';

// Finding 9 of issue 10: file:// and memory:// kept no checksum, so a stored result whose value
// byte changed from 05 to 06 came back as 6, and invalid UTF-8 as "��". Every object now carries
// its SHA-256 and full reads check it. Corruption is planted here behind the store's back.

const tempDir = useTempDir();
const sha256Hex = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Changes the data bytes of a file-store object in place (same inode), leaving its header. */
function corruptFileObject(uri: string, mutate: (data: Uint8Array) => Uint8Array): void {
  const file = fileURLToPath(uri);
  const raw = fs.readFileSync(file);
  const data = mutate(new Uint8Array(raw.subarray(HEADER_BYTES)));
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, data, 0, data.byteLength, HEADER_BYTES);
    fs.ftruncateSync(fd, HEADER_BYTES + data.byteLength);
  } finally {
    fs.closeSync(fd);
  }
}

/** The last occurrence of `from` in the data becomes `to`. */
const replaceLast = (from: number, to: number) => (data: Uint8Array) => {
  const i = data.lastIndexOf(from);
  if (i < 0) throw new Error(`byte ${from} not found`);
  const out = new Uint8Array(data);
  out[i] = to;
  return out;
};

/** Every non-ASCII byte becomes 0xff: no longer UTF-8. */
const breakUtf8 = (data: Uint8Array) => data.map((b) => (b >= 0x80 ? 0xff : b));

async function outcome(call: () => Promise<unknown>): Promise<unknown> {
  return call().then(
    (v) => v,
    (e: unknown) => e,
  );
}

describe.each([
  ['file://', () => tempDir().uri, corruptFileObject],
  [
    'memory://',
    () => `memory://store-integrity-${randomBytes(4).toString('hex')}`,
    (uri: string, mutate: (d: Uint8Array) => Uint8Array) =>
      MemoryBlobStore.corruptForTests(lookupBlobStore(uri) as MemoryBlobStore, uri, mutate),
  ],
] as const)('%s', (_name, makeRoot, corrupt) => {
  test('a stored result whose value byte changed from 05 to 06 is never returned as 6', async () => {
    const blobRoot = makeRoot();
    const runner = new MemoizingRunner({ blobRoot });
    let runs = 0;
    const five = useRunner(
      runner,
      async (label: string) => {
        runs++;
        return label.length;
      },
      { id: 'security/five' },
    );
    expect(await five('hello')).toBe(5);
    const resultUri = memoFile.result(await five.memoUri('hello'));
    corrupt(resultUri, replaceLast(5, 6));
    await expect(lookupBlobStore(resultUri).get(resultUri)).rejects.toBeInstanceOf(IntegrityError);
    asNewProcess();
    // Either the corruption surfaces, or (once the records layer treats it as a miss) the
    // function runs again: never the planted 6.
    const second = await outcome(() => five('hello'));
    if (second instanceof Error) expect(second).toBeInstanceOf(IntegrityError);
    else {
      expect(second).toBe(5);
      expect(runs).toBe(2);
    }
  });

  test('a stored string turned into invalid UTF-8 is never decoded as "��"', async () => {
    const blobRoot = makeRoot();
    const runner = new MemoizingRunner({ blobRoot });
    const greet = useRunner(runner, async (name: string) => `héllo ${name}`, { id: 'security/greet' });
    expect(await greet('wörld')).toBe('héllo wörld');
    const resultUri = memoFile.result(await greet.memoUri('wörld'));
    corrupt(resultUri, breakUtf8);
    const store = lookupBlobStore(resultUri);
    const err = await outcome(() => store.get(resultUri));
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as IntegrityError).code).toBe('MEMOCALL_INTEGRITY');
    expect((err as Error).message).toContain(resultUri);
    asNewProcess();
    const second = await outcome(() => greet('wörld'));
    if (second instanceof Error) expect(second).toBeInstanceOf(IntegrityError);
    else expect(second).toBe('héllo wörld');
  });

  test('head reports the sha256 written with the object', async () => {
    const uri = `${makeRoot()}/obj`;
    const store = lookupBlobStore(uri);
    const data = randomBytes(1000);
    await store.put(uri, data);
    expect((await store.head(uri))?.sha256).toBe(sha256Hex(data));
  });
});

test('the store integrity error is the class the records layer catches (cloud/integrity.ts)', () => {
  expect(CloudIntegrityError).toBe(IntegrityError);
});

describe('file:// object header', () => {
  const store = new FileBlobStore();

  test('an object written before checksums existed (no header) reads as it is, unverified', async () => {
    const { dir, uri } = tempDir();
    const legacy = new TextEncoder().encode('{"written":"by memocall before checksums"}');
    fs.writeFileSync(`${dir}/old`, legacy);
    expect(Buffer.from(await store.get(`${uri}/old`)).equals(legacy)).toBe(true);
    const head = await store.head(`${uri}/old`);
    expect(head?.size).toBe(legacy.byteLength);
    expect(head?.sha256).toBeUndefined();
    // Rewritten by this version, it carries a digest.
    await store.put(`${uri}/old`, legacy);
    expect((await store.head(`${uri}/old`))?.sha256).toBe(sha256Hex(legacy));
  });

  test('a bit flipped in the header magic is a damaged object, not an old one', async () => {
    const { dir, uri } = tempDir();
    await store.put(`${uri}/obj`, Uint8Array.of(1, 2, 3));
    for (const at of [0, 5, 15]) {
      const raw = fs.readFileSync(`${dir}/obj`);
      raw[at]! ^= 0x10;
      fs.writeFileSync(`${dir}/obj`, raw);
      await expect(store.get(`${uri}/obj`)).rejects.toBeInstanceOf(IntegrityError);
      raw[at]! ^= 0x10;
      fs.writeFileSync(`${dir}/obj`, raw);
      expect([...(await store.get(`${uri}/obj`))]).toEqual([1, 2, 3]);
    }
  });

  test('a flipped digest bit, a changed length field and a cut tail are IntegrityErrors', async () => {
    const { dir, uri } = tempDir();
    const data = randomBytes(4096);
    await store.put(`${uri}/obj`, data);
    const pristine = fs.readFileSync(`${dir}/obj`);
    const damages: Array<[string, (raw: Buffer) => Buffer]> = [
      ['digest', (raw) => Buffer.from(raw.map((b, i) => (i === 40 ? b ^ 1 : b)))],
      ['length', (raw) => Buffer.from(raw.map((b, i) => (i === 23 ? b ^ 1 : b)))],
      ['cut tail', (raw) => raw.subarray(0, raw.length - 512)],
      ['zero-filled tail', (raw) => Buffer.concat([raw.subarray(0, raw.length - 512), Buffer.alloc(512)])],
    ];
    for (const [what, damage] of damages) {
      fs.writeFileSync(`${dir}/obj`, damage(pristine));
      await expect(store.get(`${uri}/obj`), what).rejects.toBeInstanceOf(IntegrityError);
    }
  });
});
