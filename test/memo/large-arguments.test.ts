import { randomBytes } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, test } from 'vitest';
import { encodeArgs } from '../../src/core/args-key.js';
import { decodeCanonical } from '../../src/core/canonical-decode.js';
import { encodeCanonical } from '../../src/core/canonical-encode.js';
import { concatChunks } from '../../src/core/concat-chunks.js';
import { KEY_FORMAT_VERSION } from '../../src/core/key-format.js';
import { MemoizingRunner, lookupBlobStore, registerCodec, useRunner } from '../../src/index.js';
import { memoFile } from '../../src/protocol/memo-uri.js';
import {
  decodeInvocation,
  encodeInvocation,
  encodeInvocationOfChunks,
  type InvocationRecord,
} from '../../src/protocol/invocation-record.js';
import { useTempDir } from '../support/temp-dir.js';

// Copies are counted in ArrayBuffer memory after a full collection, so garbage never counts and
// the figure does not depend on the machine's load.
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;
const liveArrayBuffers = (): number => {
  collectGarbage();
  return process.memoryUsage().arrayBuffers;
};

const MIB = 1024 * 1024;
const tempDir = useTempDir();

describe('a large argument through a memoized samethread call', () => {
  test('costs one copy beyond the input while the function runs, and arrives as a Uint8Array', async () => {
    const size = 64 * MIB;
    const input = Buffer.allocUnsafeSlow(size);
    input.fill(randomBytes(MIB));
    const runner = new MemoizingRunner({ blobRoot: tempDir().uri }); // the default shim: samethread
    let received: unknown;
    let duringRun = 0;
    const firstBytes = useRunner(
      runner,
      (data: Uint8Array) => {
        received = data;
        duringRun = liveArrayBuffers();
        return data.byteLength;
      },
      { id: 'large/first-bytes' },
    );
    const before = liveArrayBuffers();
    expect(await firstBytes(input)).toBe(size);
    // Before: the concatenated arguments, the invocation encoding them again and the decoded
    // argument were all alive here (three copies); now only the invocation's bytes are.
    const copies = (duringRun - before) / size;
    expect(copies).toBeGreaterThan(0.9); // the invocation being written: the measure sees it
    expect(copies).toBeLessThan(1.5);
    // What a remote would decode: a plain Uint8Array (not the caller's Buffer), equal bytes.
    expect(received).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(received)).toBe(false);
    expect(Buffer.compare(input, received as Uint8Array)).toBe(0);
  });
});

describe('the invocation built from argument chunks', () => {
  const fields: Omit<InvocationRecord, 'args'> = {
    format: KEY_FORMAT_VERSION,
    memo: {
      blobRoot: 'memory://x',
      pipelineId: 'p',
      functionId: 'f',
      logicKey: undefined,
      callsSegment: 'c',
      argsKey: 'k',
    },
    functionId: 'f',
    moduleId: 'm',
    runtimeModule: undefined,
    invokedAt: '2026-01-01T00:00:00.000Z',
    invokedBy: 'me',
    writerId: 'w',
    codeRoot: '/code',
  };

  test.each([
    ['no arguments', []],
    ['small ones', [1, 'two', { three: [3] }]],
    ['a large byte array among others', [randomBytes(200 * 1024), 'x', new Float64Array(20_000)]],
  ])('has the bytes encodeInvocation writes: %s', (_, args) => {
    const chunks = encodeArgs(args);
    const { bytes, record } = encodeInvocationOfChunks(fields, chunks);
    const args1 = concatChunks(chunks);
    expect(Buffer.from(bytes).equals(Buffer.from(encodeInvocation({ ...fields, args: args1 })))).toBe(true);
    expect(Buffer.from(record.args).equals(Buffer.from(args1))).toBe(true);
    expect(record.args.buffer).toBe(bytes.buffer); // a view, not a copy
    expect(decodeInvocation(bytes).args).toEqual(args1);
  });

  test('decoding its args gives views of them; decoding anything else gives copies', () => {
    const big = randomBytes(128 * 1024);
    const { bytes, record } = encodeInvocationOfChunks(fields, encodeArgs([big]));
    const [inProcess] = decodeCanonical(record.args) as [Uint8Array];
    expect(inProcess.buffer).toBe(bytes.buffer);
    // A remote's record read from storage: its own copy of the args, decoded into views of it.
    const read = decodeInvocation(new Uint8Array(bytes));
    const [remote] = decodeCanonical(read.args) as [Uint8Array];
    expect(remote.buffer).toBe(read.args.buffer);
    expect(Buffer.from(remote).equals(big)).toBe(true);
    // A result (bytes a cache may hand to several callers) decodes into memory of its own.
    const result = encodeCanonical(big);
    const decoded = decodeCanonical(result) as Uint8Array;
    expect(decoded.buffer).not.toBe(result.buffer);
    decoded[0] = decoded[0]! ^ 0xff;
    expect((decodeCanonical(result) as Uint8Array)[0]).toBe(big[0]);
  });

  test('decoded into views, a codec still gets bytes of its own (one that keeps `.buffer` as its data)', () => {
    class Samples {
      constructor(readonly memory: ArrayBuffer) {}
    }
    registerCodec(
      'test-large-arguments/Samples',
      Samples,
      (s) => new Uint8Array(s.memory),
      (payload: Uint8Array) => new Samples(payload.buffer as ArrayBuffer),
    );
    const big = randomBytes(128 * 1024);
    const samples = new Samples(new Uint8Array(randomBytes(100 * 1024)).buffer);
    const { bytes, record } = encodeInvocationOfChunks(fields, encodeArgs([big, { samples }]));
    const [view, inside] = decodeCanonical(record.args) as [Uint8Array, { samples: Samples }];
    expect(view.buffer).toBe(bytes.buffer);
    expect(inside.samples).toBeInstanceOf(Samples);
    expect(Buffer.from(inside.samples.memory).equals(Buffer.from(samples.memory))).toBe(true);
  });

  test('is what a samethread call stores', async () => {
    const { uri } = tempDir();
    const runner = new MemoizingRunner({ blobRoot: uri }); // the default shim: samethread
    const f = useRunner(runner, (data: Uint8Array, label: string) => `${label}${data.byteLength}`, {
      id: 'large/stored',
    });
    const data = randomBytes(100 * 1024);
    expect(await f(data, 'n=')).toBe(`n=${data.byteLength}`);
    const memoUri = await f.memoUri(data, 'n=');
    const stored = decodeInvocation(await lookupBlobStore(memoUri).get(memoFile.invocation(memoUri)));
    expect(Buffer.from(stored.args).equals(Buffer.from(concatChunks(encodeArgs([data, 'n=']))))).toBe(true);
  });
});
