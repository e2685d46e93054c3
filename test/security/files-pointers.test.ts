// Finding 1 of issue 10: stored data is data. A planted result (or invocation) names a local path
// in a DestFile; neither the caller nor a remote may write there.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { encodeArgs } from '../../src/core/args-key.js';
import { concatChunks } from '../../src/core/concat-chunks.js';
import { sha256Hex } from '../../src/core/sha256.js';
import { runInvocation } from '../../src/execute/remote-entry.js';
import { DestFile } from '../../src/files/dest-file.js';
import { INTERNAL } from '../../src/files/file-value.js';
import { MemoizingRunner, configureDownloadCache, dest, lookupBlobStore } from '../../src/index.js';
import { decodeInvocation, encodeInvocation } from '../../src/protocol/invocation-record.js';
import { memoFile } from '../../src/protocol/memo-uri.js';
import { encodeResult } from '../../src/protocol/result-record.js';
import { samethread } from '../../src/shims/samethread.js';
import { useFileRunner, writeDest } from '../fixtures/file-functions.js';

const text = (s: string) => new TextEncoder().encode(s);

/** A DestFile as an attacker stores it: made by the codec's path, never by code of this process. */
function planted(uri: string, localPath: string, content?: Uint8Array): DestFile {
  const digest = content && { sha256: sha256Hex(content), size: content.byteLength };
  return new DestFile(INTERNAL, uri, localPath, digest, 'decoded');
}

const stores: Array<[string, () => string]> = [
  ['file://', () => pathToFileURL(fs.mkdtempSync(path.join(os.tmpdir(), 'memocall-sec-store-'))).href],
  ['memory://', () => `memory://sec-pointers-${process.pid}`],
];

for (const [name, makeRoot] of stores) {
  describe(`planted DestFile paths on ${name}`, () => {
    let work: string;
    let cwd: string;
    let root: string;
    let blobRoot: string;
    let victim: string;
    const legit = 'ssh-ed25519 AAAAC3legit user@host\n';

    beforeAll(() => {
      root = makeRoot();
      work = fs.mkdtempSync(path.join(os.tmpdir(), 'memocall-sec-pointers-'));
      configureDownloadCache({ dir: path.join(work, 'cache') });
      cwd = process.cwd();
      process.chdir(work);
    });
    afterAll(() => {
      process.chdir(cwd);
      fs.rmSync(work, { recursive: true, force: true });
      if (root.startsWith('file:')) fs.rmSync(new URL(root), { recursive: true, force: true });
    });
    beforeEach(() => {
      blobRoot = `${root.replace(/\/+$/, '')}/t-${randomBytes(4).toString('hex')}`;
      victim = path.join(work, `home-${randomBytes(3).toString('hex')}`, '.ssh', 'authorized_keys');
      fs.mkdirSync(path.dirname(victim), { recursive: true });
      fs.writeFileSync(victim, legit);
      useFileRunner(new MemoizingRunner({ blobRoot, shim: samethread() }));
    });

    test("a hit writes pointers only at the caller's own DestFile paths, never at a stored localPath", async () => {
      const store = lookupBlobStore(blobRoot);
      const mine = dest(`${blobRoot}/out/report.txt`, 'mine/report.txt');
      const memoUri = await writeDest.memoUri(mine, 'hello');
      // The attacker's result: the caller's own URI with a path of its choosing, and another URI.
      const content = text('planted bytes');
      await store.put(mine.uri, content);
      const elsewhere = `${victim}.2`;
      const value = {
        same: planted(mine.uri, victim, content),
        other: planted(`${blobRoot}/out/other.txt`, elsewhere, content),
      };
      await store.put(`${blobRoot}/out/other.txt`, content);
      const { record } = encodeResult(value, {
        runId: 'r-planted',
        writerId: 'w-planted',
        functionId: 'files/writeDest',
        finishedAt: new Date().toISOString(),
      });
      await store.put(memoFile.result(memoUri), record);

      const got = (await writeDest(mine, 'hello')) as unknown as typeof value;
      expect(got.same).toBeInstanceOf(DestFile); // the planted value is the hit...
      expect(fs.readFileSync(victim, 'utf8')).toBe(legit); // ...but nothing was written at its paths
      expect(fs.existsSync(elsewhere)).toBe(false);
      // The caller's own argument, matched by URI, gets its pointer.
      const pointer = JSON.parse(fs.readFileSync(path.join(work, 'mine', 'report.txt'), 'utf8'));
      expect(pointer).toEqual({ memocall: 'file-pointer/1', uri: mine.uri, sha256: sha256Hex(content), size: 13 });
      // A decoded DestFile writes only under its own temporary directory.
      expect(path.resolve(got.same.localPath)).not.toBe(victim);
      expect(got.same.localPath.startsWith(os.tmpdir())).toBe(true);
    });

    test('a remote derives its own local path: a planted invocation cannot make it write a stored localPath', async () => {
      const store = lookupBlobStore(blobRoot);
      const benign = dest(`${blobRoot}/out/r2.txt`, 'mine/r2.txt');
      await writeDest(benign, 'v1');
      const memoUri = await writeDest.memoUri(benign, 'v1');
      // Rewrite the stored invocation: same call, the DestFile now names the victim's file.
      const invocation = decodeInvocation(await store.get(memoFile.invocation(memoUri)));
      invocation.args = concatChunks(encodeArgs([planted(benign.uri, victim), 'owned']));
      await store.put(memoFile.invocation(memoUri), encodeInvocation(invocation));
      await store.delete(memoFile.result(memoUri));

      const report = await runInvocation({ memoUri }); // as `memocall run <uri>` by hand, or a worker
      expect(report.status).toBe('ok');
      expect(fs.readFileSync(victim, 'utf8')).toBe(legit);
      // The function's bytes went to the URI, from a file the remote chose itself.
      expect(new TextDecoder().decode(await store.get(benign.uri))).toBe('owned');
    });
  });
}
