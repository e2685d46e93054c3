import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import {
  DestFileContext,
  DestFileNotWrittenError,
  DuplicateOutputUriError,
  MemoizingRunner,
  RemoteError,
  SrcFileContext,
  configureDownloadCache,
  dest,
  fromUri,
  loadSrcFile,
  localSrc,
  lookupBlobStore,
  src,
  uploadThroughCache,
  type Shim,
} from '../../src/index.js';
import { KEY_FORMAT_VERSION } from '../../src/core/key-format.js';
import { samethread } from '../../src/shims/samethread.js';
import { subprocess } from '../../src/shims/subprocess/subprocess-shim.js';
import {
  describeFile,
  makeOutputs,
  neverWritten,
  readText,
  runs,
  seenUris,
  useFileRunner,
  writeDest,
  writeTwoReturnOne,
} from '../fixtures/file-functions.js';
import { childRunShim } from './child-run-shim.js';
import { projectRoot } from '../support/child.js';
import { pathToFileURL } from 'node:url';

export interface FileValuesSetup {
  /** A fresh blob root for the suite (tests use unique sub-prefixes). */
  blobRoot: string;
  teardown?: () => Promise<void>;
}

export interface FileValuesOptions {
  /** Also run through a child process (`memocall run`): the store must be reachable from another process. */
  subprocess: boolean;
}

const text = (s: string) => new TextEncoder().encode(s);

/**
 * The behaviour of SrcFile, DestFile and Source through memoized calls, against one blob store.
 * Run it for every store (file, memory, S3, Azure) by passing another setup.
 */
export function describeFileValues(
  name: string,
  setup: () => Promise<FileValuesSetup>,
  options: FileValuesOptions,
): void {
  describe(`file values on ${name}`, () => {
    let root: string;
    let teardown: (() => Promise<void>) | undefined;
    let work: string;
    let cwd: string;

    beforeAll(async () => {
      const s = await setup();
      root = s.blobRoot.replace(/\/+$/, '');
      teardown = s.teardown;
      work = fs.mkdtempSync(path.join(os.tmpdir(), 'memocall-files-'));
      // One cache per suite, shared with the children it starts (they inherit the environment).
      process.env.MEMOCALL_CACHE_DIR = path.join(work, 'cache');
      configureDownloadCache({ dir: process.env.MEMOCALL_CACHE_DIR });
      cwd = process.cwd();
      process.chdir(work); // relative DestFile paths and `.out/` land here, for parent and children
    });

    afterAll(async () => {
      process.chdir(cwd);
      fs.rmSync(work, { recursive: true, force: true });
      await teardown?.();
    });

    let blobRoot: string;
    beforeEach(() => {
      blobRoot = `${root}/t-${randomBytes(5).toString('hex')}`;
    });

    const localFile = (name: string, content: string): string => {
      const p = path.join(work, 'in', `${randomBytes(3).toString('hex')}-${name}`);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, content);
      return p;
    };
    const listAll = async (prefix: string): Promise<string[]> => {
      const out: string[] = [];
      for await (const uri of lookupBlobStore(prefix).list(prefix)) out.push(uri);
      return out;
    };

    const shims: Array<[string, () => Shim]> = [['samethread', () => samethread()]];
    if (options.subprocess) {
      shims.push(['memocall run', () => childRunShim()]);
      // The cloud schemes are registered in the children up front (lazily loaded; the endpoints
      // come from the environment): \`memocall run\` itself does not import them (yet).
      const cloud = pathToFileURL(path.join(projectRoot, 'src/blobstore/cloud/cloud-stores.ts')).href;
      shims.push(['subprocess()', () => subprocess({ output: 'ignore', execArgv: ['--import', cloud] })]);
    }

    for (const [shimName, makeShim] of shims) {
      const inChild = shimName !== 'samethread';
      describe(`through ${shimName}`, () => {
        const runnerFor = () => {
          const runner = new MemoizingRunner({ blobRoot, shim: makeShim() });
          useFileRunner(runner);
          return runner;
        };

        test('localSrc: read in place when local, else uploaded content-addressed under the blob root', async () => {
          runnerFor();
          const file = localFile('data.csv', 'a,b\n1,2\n');
          const out = await readText(localSrc(file));
          expect(out.text).toBe('a,b\n1,2\n');
          const cas = (await listAll(blobRoot)).filter((u) => u.includes(`/${KEY_FORMAT_VERSION}/cas/sha256/`));
          if (inChild) {
            expect(out.pid).not.toBe(process.pid);
            expect(cas).toHaveLength(1); // uploaded once, named by content, inside the blob root
            expect(cas[0]).toMatch(
              new RegExp(
                `^${blobRoot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/${KEY_FORMAT_VERSION}/cas/sha256/[0-9a-f]{64}$`,
              ),
            );
            expect(out.at).not.toBe(file); // read from the child's download cache
          } else {
            expect(out.at).toBe(file); // in place: no copy, no upload
            expect(cas).toEqual([]);
          }
          // A hit uploads nothing more and runs nothing.
          const before = (await listAll(blobRoot)).length;
          expect((await readText(localSrc(file))).text).toBe('a,b\n1,2\n');
          expect((await listAll(blobRoot)).length).toBe(before);
        });

        test('src(uri): downloaded through the cache on first access', async () => {
          runnerFor();
          const uri = `${blobRoot}/inputs/remote.txt`;
          await lookupBlobStore(uri).put(uri, text('remote bytes'));
          const out = await readText(src(uri));
          expect(out.text).toBe('remote bytes');
          expect(out.uri).toBe(uri);
          expect(out.at.startsWith(path.join(work, 'cache'))).toBe(true);
        });

        test('loadSrcFile: a pointer file left by a returned DestFile feeds the next call', async () => {
          runnerFor();
          const localDir = path.join(work, `local-${randomBytes(3).toString('hex')}`);
          const ctx = new DestFileContext(`${blobRoot}/outputs`, localDir);
          const written = await writeDest(ctx.dest('report.txt'), `report via ${shimName}`);
          const pointerPath = path.join(localDir, 'report.txt');
          const fromPointer = await loadSrcFile(pointerPath);
          expect(fromPointer.uri).toBe(`${blobRoot}/outputs/report.txt`);
          expect((await readText(fromPointer)).text).toBe(`report via ${shimName}`);
          // and the same through SrcFileContext, from the returned DestFile or the pointer path
          const srcs = new SrcFileContext(`${blobRoot}/outputs`);
          expect((await readText(srcs.src(written))).text).toBe(`report via ${shimName}`);
          expect(srcs.src(pointerPath).sha256).toBe(written.sha256);
        });

        test('DestFile: uploaded to its URI on return; a JSON pointer is left at its local path', async () => {
          runnerFor();
          const localDir = path.join(work, `dest-${randomBytes(3).toString('hex')}`);
          const out = new DestFileContext(`${blobRoot}/results`, localDir).dest('sub/table.csv');
          const returned = await writeDest(out, 'x,y\n3,4\n');
          const uri = `${blobRoot}/results/sub/table.csv`;
          expect(returned.uri).toBe(uri);
          expect(new TextDecoder().decode(await lookupBlobStore(uri).get(uri))).toBe('x,y\n3,4\n');
          const pointer = JSON.parse(fs.readFileSync(path.join(localDir, 'sub', 'table.csv'), 'utf8'));
          expect(pointer).toEqual({ memocall: 'file-pointer/1', uri, sha256: returned.sha256, size: 8 });
          expect(pointer.sha256).toMatch(/^[0-9a-f]{64}$/);
        });

        test('DestFile returned but never written: the call fails, naming it', async () => {
          runnerFor();
          const error = await neverWritten(
            dest(`${blobRoot}/never.txt`, path.join(work, `never-${randomBytes(3).toString('hex')}.txt`)),
          ).catch((e: unknown) => e);
          expect(String((error as Error).message)).toMatch(/DestFile for .*\/never\.txt was never written/);
          if (inChild) expect(error).toBeInstanceOf(RemoteError);
          if (!inChild) expect(error).toBeInstanceOf(DestFileNotWrittenError);
        });

        test('a DestFile written but not returned is reported, never silently lost', async () => {
          const runner = runnerFor();
          const warnings: Error[] = [];
          const onWarning = (w: Error) => warnings.push(w);
          process.on('warning', onWarning);
          try {
            const dir = path.join(work, `two-${randomBytes(3).toString('hex')}`);
            const ctx = new DestFileContext(`${blobRoot}/two`, dir);
            await writeTwoReturnOne(ctx.dest('kept.txt'), ctx.dest('forgotten.txt'));
            await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
          } finally {
            process.off('warning', onWarning);
          }
          const memoUri = (await listAll(blobRoot))
            .find((u) => u.endsWith('/invocation'))!
            .replace(/\/invocation$/, '');
          const metaUri = (await listAll(`${memoUri}/meta/`))[0]!;
          const meta = JSON.parse(new TextDecoder().decode(await runner.store.get(metaUri)));
          expect(meta.detail).toMatch(
            /MEMOCALL_DEST_NOT_RETURNED: DestFile .*\/two\/forgotten\.txt was written at .*forgotten\.txt but not returned/,
          );
          if (!inChild)
            expect(warnings.map((w) => (w as Error & { code?: string }).code)).toContain('MEMOCALL_DEST_NOT_RETURNED');
          expect(await lookupBlobStore(`${blobRoot}/two/kept.txt`).head(`${blobRoot}/two/kept.txt`)).not.toBeNull();
          expect(
            await lookupBlobStore(`${blobRoot}/two/forgotten.txt`).head(`${blobRoot}/two/forgotten.txt`),
          ).toBeNull();
        });

        test('returned Sources are uploaded under the invocation output namespace, .out/ stripped', async () => {
          const runner = runnerFor();
          const tag = `t${randomBytes(3).toString('hex')}`;
          const result = await makeOutputs(tag, [`.out/${tag}/model.bin`, `${tag}/metrics.json`]);
          const memoUri = await makeOutputs.memoUri(tag, [`.out/${tag}/model.bin`, `${tag}/metrics.json`]);
          const argsKey = memoUri.slice(memoUri.lastIndexOf('/') + 1);
          expect(result.namespace).toBe(
            `${blobRoot}/${runner.pipelineId}/files/makeOutputs/${argsKey}/${result.runId}`,
          );
          expect(result.sources.map((s) => s.uri)).toEqual([
            `${result.namespace}/${tag}/model.bin`,
            `${result.namespace}/${tag}/metrics.json`,
          ]);
          for (const s of result.sources) {
            expect(s.sha256).toMatch(/^[0-9a-f]{64}$/);
            const p = await s.path();
            expect(fs.readFileSync(p, 'utf8')).toMatch(new RegExp(`^${tag}:`));
          }
          expect(new TextDecoder().decode(await runner.store.get(result.sources[0]!.uri!))).toBe(
            `${tag}:.out/${tag}/model.bin`,
          );
        });

        test('two outputs that would land on one URI are an error', async () => {
          runnerFor();
          const tag = `dup${randomBytes(3).toString('hex')}`;
          const error = await makeOutputs(tag, [`.out/${tag}/same.txt`, `${tag}/same.txt`]).catch((e: unknown) => e);
          expect(String((error as Error).message)).toMatch(
            /two outputs of one result would be uploaded to .*\/same\.txt/,
          );
          if (!inChild) expect(error).toBeInstanceOf(DuplicateOutputUriError);
        });

        test('same content, different URIs: two keys, each call sees its own URI', async () => {
          runnerFor();
          const a = `${blobRoot}/part=a/data.txt`;
          const b = `${blobRoot}/part=b/data.txt`;
          await lookupBlobStore(a).put(a, text('same bytes'));
          await lookupBlobStore(b).put(b, text('same bytes'));
          const ra = await describeFile(src(a));
          const rb = await describeFile(src(b));
          expect(ra.sha256).toBe(rb.sha256);
          expect(ra.uri).toBe(a);
          expect(rb.uri).toBe(b); // not collapsed into a's memo entry
          expect(await describeFile.memoUri(src(a))).not.toBe(await describeFile.memoUri(src(b)));
          // Sources too, and inside one call each keeps its own URI (mops' hash → URI map kept one).
          expect(await readText.memoUri(fromUri(a))).not.toBe(await readText.memoUri(fromUri(b)));
          const both = await seenUris([fromUri(a), fromUri(b), src(b)]);
          expect(both.map((x) => x.uri)).toEqual([a, b, b]);
          expect(new Set(both.map((x) => x.sha256)).size).toBe(1);
          expect(both.map((x) => x.text)).toEqual(['same bytes', 'same bytes', 'same bytes']);
          // Local files are identified by content only: where they sit is not part of the key.
          const l1 = localFile('one.txt', 'local content');
          const l2 = localFile('two.txt', 'local content');
          expect(await describeFile.memoUri(localSrc(l1))).toBe(await describeFile.memoUri(localSrc(l2)));
        });

        test('fromUri Sources and uploadThroughCache', async () => {
          runnerFor();
          const uri = `${blobRoot}/through-cache.txt`;
          await uploadThroughCache(localFile('up.txt', 'uploaded through the cache'), uri);
          const out = await readText(fromUri(uri));
          expect(out.text).toBe('uploaded through the cache');
        });
      });
    }

    test('keys follow content: a changed local file is a new call, an unchanged one a hit', async () => {
      const runner = new MemoizingRunner({ blobRoot, shim: samethread() });
      useFileRunner(runner);
      const file = localFile('changing.txt', 'v1');
      const before = runs.readText;
      expect((await readText(localSrc(file))).text).toBe('v1');
      expect((await readText(localSrc(file))).text).toBe('v1');
      expect(runs.readText).toBe(before + 1);
      fs.writeFileSync(file, 'v2 (longer)');
      expect((await readText(localSrc(file))).text).toBe('v2 (longer)');
      expect(runs.readText).toBe(before + 2);
    });
  });
}
