import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { tempSiblingPath } from '../../src/blobstore/local/atomic-local-file.js';
import { FileBlobStore } from '../../src/blobstore/local/file-store.js';
import { collectFileStoreGarbage } from '../../src/blobstore/local/temp-file-collector.js';
import { formatWriterTag, ownWriterTag, processStartTicks } from '../../src/blobstore/local/writer-identity.js';
import { useTempDir } from '../support/temp-dir.js';

// Finding 15 of issue 10 (store half): temp files of killed writers stayed in the store forever.
// Dead writers' temp files are planted here by hand, named as the writer would have named them.

const tempDir = useTempDir();

/** The pid of a process that has exited (and its start time while it ran). */
function deadProcess(): { pid: number; start: number } {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(r.stdout);
  return { pid, start: 12345 };
}

/** Plants a temp file next to `target` as the writer `tag` would name it, last written `ageMs` ago. */
function plantTemp(target: string, tag: string, ageMs: number, bytes = 1000): string {
  const file = path.join(path.dirname(target), `.${path.basename(target)}.memocall-tmp-${tag}-0`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.alloc(bytes, 7));
  const when = (Date.now() - ageMs) / 1000;
  fs.utimesSync(file, when, when);
  return file;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('collectFileStoreGarbage', () => {
  test('removes temp files of writers that provably died on this host; keeps live writers', async () => {
    const { dir, uri } = tempDir();
    const me = ownWriterTag();
    const dead = deadProcess();
    const deadTag = formatWriterTag({ ...me, pid: dead.pid, start: dead.start });
    const deadFile = plantTemp(path.join(dir, 'memocall-v1', 'p', 'k', 'result'), deadTag, 5 * MINUTE);
    // A pid that runs, but was started at another time than recorded: a reused pid, dead writer.
    const reusedTag = formatWriterTag({ ...me, start: me.start + 1 });
    const reusedFile = plantTemp(path.join(dir, 'a', 'obj'), reusedTag, 5 * MINUTE);
    // This process, as it is: alive, however old its temp file.
    const liveFile = plantTemp(path.join(dir, 'b', 'obj'), formatWriterTag(me), 48 * HOUR);
    // A dead writer's file written moments ago is left for now.
    const freshDeadFile = plantTemp(path.join(dir, 'c', 'obj'), deadTag, 0);

    const dry = await collectFileStoreGarbage(uri, { dryRun: true });
    expect(dry.removed.map((r) => r.path).sort()).toEqual([deadFile, reusedFile].sort());
    expect(dry.removed.every((r) => r.reason === 'writer-dead' && r.bytes === 1000)).toBe(true);
    expect(fs.existsSync(deadFile)).toBe(true); // dry run: nothing removed

    const report = await collectFileStoreGarbage(uri);
    expect(report.removed.map((r) => r.path).sort()).toEqual([deadFile, reusedFile].sort());
    expect(report.kept).toBe(2);
    expect(fs.existsSync(deadFile)).toBe(false);
    expect(fs.existsSync(reusedFile)).toBe(false);
    expect(fs.existsSync(liveFile)).toBe(true);
    expect(fs.existsSync(freshDeadFile)).toBe(true);
  });

  test('writers on other hosts and old-style names are judged by age alone', async () => {
    const { dir } = tempDir();
    const other = formatWriterTag({ ...ownWriterTag(), host: '0badc0de' });
    const young = plantTemp(path.join(dir, 'x', 'obj'), other, 2 * HOUR);
    const old = plantTemp(path.join(dir, 'y', 'obj'), other, 25 * HOUR);
    const oldStyleYoung = plantTemp(path.join(dir, 'z', 'obj'), '1a2b-9f3e0c1d', 2 * HOUR);
    const oldStyleOld = plantTemp(path.join(dir, 'z', 'obj2'), '1a2b-9f3e0c1d', 25 * HOUR);
    const report = await collectFileStoreGarbage(dir); // a path works as well as a URI
    expect(report.removed.map((r) => r.path).sort()).toEqual([old, oldStyleOld].sort());
    expect(report.removed.every((r) => r.reason === 'too-old')).toBe(true);
    expect(fs.existsSync(young) && fs.existsSync(oldStyleYoung)).toBe(true);
    const stricter = await collectFileStoreGarbage(dir, { maxAgeMs: HOUR });
    expect(stricter.removed.map((r) => r.path).sort()).toEqual([young, oldStyleYoung].sort());
  });

  test('objects, lock files and other files are never touched', async () => {
    const { dir, uri } = tempDir();
    const store = new FileBlobStore();
    await store.put(`${uri}/keep/obj`, Uint8Array.of(1));
    fs.writeFileSync(path.join(dir, 'keep', '.obj.memocall-lock'), '');
    fs.writeFileSync(path.join(dir, 'keep', 'notes.txt'), 'mine');
    const old = (Date.now() - 100 * HOUR) / 1000;
    for (const f of fs.readdirSync(path.join(dir, 'keep'))) fs.utimesSync(path.join(dir, 'keep', f), old, old);
    const report = await collectFileStoreGarbage(uri);
    expect(report.removed).toEqual([]);
    expect(fs.readdirSync(path.join(dir, 'keep')).sort()).toEqual(['.obj.memocall-lock', 'notes.txt', 'obj']);
  });
});

describe('during writes', () => {
  test('a write removes dead writers’ temp files from the directory it writes to', async () => {
    const { dir, uri } = tempDir();
    const dead = deadProcess();
    const deadTag = formatWriterTag({ ...ownWriterTag(), pid: dead.pid, start: dead.start });
    const left = plantTemp(path.join(dir, 'memo', 'result'), deadTag, 5 * MINUTE, 4096);
    const elsewhere = plantTemp(path.join(dir, 'other', 'result'), deadTag, 5 * MINUTE);
    const store = new FileBlobStore();
    await store.put(`${uri}/memo/result`, Uint8Array.of(1), { ifNoneMatch: '*' });
    expect(fs.existsSync(left)).toBe(false);
    expect(fs.readdirSync(path.join(dir, 'memo'))).toEqual(['result']);
    expect(fs.existsSync(elsewhere)).toBe(true); // bounded work: only the directory written to
  });

  test('the opportunistic pass is rate-limited (one directory per interval)', async () => {
    const { dir, uri } = tempDir();
    const deadTag = formatWriterTag({ ...ownWriterTag(), pid: deadProcess().pid, start: 1 });
    const store = new FileBlobStore({ tempSweep: { intervalMs: 60 * MINUTE } });
    const first = plantTemp(path.join(dir, 'd1', 'obj'), deadTag, 5 * MINUTE);
    const second = plantTemp(path.join(dir, 'd2', 'obj'), deadTag, 5 * MINUTE);
    await store.put(`${uri}/d1/obj`, Uint8Array.of(1));
    await store.put(`${uri}/d2/obj`, Uint8Array.of(1));
    expect(fs.existsSync(first)).toBe(false);
    expect(fs.existsSync(second)).toBe(true);
  });
});

test('temp names record host, boot, pid and start time, so liveness can be checked', () => {
  const name = path.basename(tempSiblingPath('/x/result'));
  const me = ownWriterTag();
  expect(name).toContain(`.memocall-tmp-${formatWriterTag(me)}-`);
  expect(me.pid).toBe(process.pid);
  if (process.platform === 'linux') expect(me.start).toBe(processStartTicks(process.pid));
});
