// Issue 9 finding 3: a fixed DestFile path reused by calls with other arguments. The later call
// overwrites the earlier one's output; going back to the first arguments must not be a hit on
// changed bytes (nor a stored error): it is a miss with MEMOCALL_STALE_OUTPUT, and the call runs
// again. The overwriting upload itself warns (MEMOCALL_OUTPUT_OVERWRITE) naming both calls.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { sha256Hex } from '../../src/core/sha256.js';
import {
  DestFileContext,
  MemoizingRunner,
  configureDownloadCache,
  loadSrcFile,
  lookupBlobStore,
} from '../../src/index.js';
import { resetProcessStateForTests } from '../../src/memo/process-state.js';
import { memoFile } from '../../src/protocol/memo-uri.js';
import { samethread } from '../../src/shims/samethread.js';
import { useFileRunner, writeDest } from '../fixtures/file-functions.js';
import { childRunShim } from './child-run-shim.js';
import { azureSetup, stopCloudServers } from './cloud-setups.js';
import { skipRequested } from '../support/servers.js';

afterAll(stopCloudServers);

// Azure checks by `head` (the sha256 in the blob's metadata), file:// by stat + remembered digest,
// memory:// through the download cache's record of the version.
const stores: Array<[string, () => Promise<string>, boolean]> = [
  ['file://', async () => pathToFileURL(fs.mkdtempSync(path.join(os.tmpdir(), 'memocall-stale-store-'))).href, true],
  ['memory://', async () => `memory://stale-${process.pid}`, false],
];
if (!skipRequested('azure')) stores.push(['adls:// (azurite)', async () => (await azureSetup('stale')).root, false]);

for (const [name, makeRoot, inChild] of stores) {
  describe(`a reused output path on ${name}`, () => {
    let root: string;
    let work: string;
    let cwd: string;
    let blobRoot: string;
    const warnings: Array<{ code: string; message: string }> = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push({ code: w.code ?? '', message: w.message });

    beforeAll(async () => {
      root = await makeRoot();
      work = fs.mkdtempSync(path.join(os.tmpdir(), 'memocall-stale-'));
      process.env.MEMOCALL_CACHE_DIR = path.join(work, 'cache');
      configureDownloadCache({ dir: process.env.MEMOCALL_CACHE_DIR });
      cwd = process.cwd();
      process.chdir(work);
      process.on('warning', onWarning);
    });
    afterAll(() => {
      process.off('warning', onWarning);
      process.chdir(cwd);
      fs.rmSync(work, { recursive: true, force: true });
      if (root.startsWith('file:')) fs.rmSync(new URL(root), { recursive: true, force: true });
    });
    beforeEach(() => {
      blobRoot = `${root.replace(/\/+$/, '')}/t-${randomBytes(4).toString('hex')}`;
      warnings.length = 0;
    });
    afterEach(() => resetProcessStateForTests());

    const settle = () => new Promise((resolve) => setImmediate(resolve));
    const codes = (code: string) => warnings.filter((w) => w.code === code);
    const text = async (uri: string) => new TextDecoder().decode(await lookupBlobStore(uri).get(uri));

    const shims: Array<[string, () => ReturnType<typeof samethread>]> = [['samethread', () => samethread()]];
    if (inChild) shims.push(['memocall run', () => childRunShim()]);

    for (const [shimName, makeShim] of shims) {
      test(`going back to earlier arguments runs again instead of a hit on changed bytes (${shimName})`, async () => {
        useFileRunner(new MemoizingRunner({ blobRoot, shim: makeShim() }));
        const outputs = new DestFileContext(`${blobRoot}/clean`, 'data/clean');
        const pointerPath = path.join(work, 'data', 'clean', '2026-11.csv');
        const call = (content: string) => writeDest(outputs.dest('2026-11.csv'), content);
        const uri = `${blobRoot}/clean/2026-11.csv`;
        const memoA = await writeDest.memoUri(outputs.dest('2026-11.csv'), 'A');
        const memoB = await writeDest.memoUri(outputs.dest('2026-11.csv'), 'B');

        const a1 = await call('A');
        await call('B'); // overwrites A's output: warned, naming both calls
        await settle();
        if (shimName === 'samethread') {
          // (a child's warning goes to its own stderr)
          expect(codes('MEMOCALL_OUTPUT_OVERWRITE')).toHaveLength(1);
          expect(codes('MEMOCALL_OUTPUT_OVERWRITE')[0]!.message).toContain(memoA);
          expect(codes('MEMOCALL_OUTPUT_OVERWRITE')[0]!.message).toContain(memoB);
        }
        expect(await text(uri)).toBe('B');

        // Back to A in this process (its result is cached here): stale, so it runs again.
        const a2 = await call('A');
        await settle();
        expect(codes('MEMOCALL_STALE_OUTPUT').map((w) => w.message)).toEqual([expect.stringContaining(uri)]);
        expect(codes('MEMOCALL_STALE_OUTPUT')[0]!.message).toContain(memoA);
        expect(await text(uri)).toBe('A'); // only running A again could have written this
        expect(a2.sha256).toBe(a1.sha256);
        expect(fs.readFileSync(await (await loadSrcFile(pointerPath)).path(), 'utf8')).toBe('A');

        // Back to B as a new process would (the store's result only): stale too, runs again.
        resetProcessStateForTests();
        warnings.length = 0;
        const b2 = await call('B');
        await settle();
        expect(codes('MEMOCALL_STALE_OUTPUT').map((w) => w.message)).toEqual([expect.stringContaining(memoB)]);
        expect(await text(uri)).toBe('B');
        expect(b2.sha256).toBe(sha256Hex(new TextEncoder().encode('B')));

        // Unchanged since: a plain hit (no warning, nothing rewritten).
        warnings.length = 0;
        const head = (await lookupBlobStore(uri).head(uri))!;
        const etag = head.etag;
        // Cloud stores answer the check with one head: the sha256 kept in the object's metadata.
        if (name.startsWith('adls')) expect(head.sha256).toBe(b2.sha256);
        resetProcessStateForTests();
        expect((await call('B')).sha256).toBe(b2.sha256);
        await settle();
        expect(codes('MEMOCALL_STALE_OUTPUT')).toEqual([]);
        expect((await lookupBlobStore(uri).head(uri))!.etag).toBe(etag);

        // Never a stored error.
        for (const memoUri of [memoA, memoB])
          expect(await lookupBlobStore(memoUri).head(memoFile.error(memoUri))).toBeNull();
      });
    }

    test('a deleted output is stale too', async () => {
      useFileRunner(new MemoizingRunner({ blobRoot, shim: samethread() }));
      const out = new DestFileContext(`${blobRoot}/x`, 'data/x');
      await writeDest(out.dest('gone.txt'), 'G');
      await lookupBlobStore(blobRoot).delete(`${blobRoot}/x/gone.txt`);
      resetProcessStateForTests();
      await writeDest(out.dest('gone.txt'), 'G');
      await settle();
      expect(codes('MEMOCALL_STALE_OUTPUT')[0]!.message).toContain('now absent');
      expect(await text(`${blobRoot}/x/gone.txt`)).toBe('G');
    });
  });
}
