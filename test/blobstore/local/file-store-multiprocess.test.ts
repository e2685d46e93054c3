import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FileBlobStore } from '../../../src/blobstore/local/file-store.js';
import { lockPathFor } from '../../../src/blobstore/local/file-object-lock.js';
import { PreconditionFailedError } from '../../../src/blobstore/errors.js';
import { finishesWithinBudget } from '../../support/timing.js';

// Real processes: in-process concurrency cannot show that the file store's conditional writes
// hold across processes (the conformance suite covers the in-process case).

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const racerScript = fileURLToPath(new URL('../../fixtures/file-store-racer.ts', import.meta.url));
const PROCESSES = 8;

let dir: string;
let root: string;
let racers: Racer[] = [];

beforeAll(async () => {
  dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'memocall-file-mp-'));
  root = pathToFileURL(dir).href;
  racers = Array.from({ length: PROCESSES }, () => new Racer());
  await Promise.all(racers.map((r) => r.nextLine()).map(async (line) => expect(await line).toBe('ready')));
});

afterAll(async () => {
  await Promise.all(racers.map((r) => r.close()));
  await fs.promises.rm(dir, { recursive: true, force: true });
});

/** Sends one command to every racer, all starting at the same instant, and collects the answers. */
async function race(
  command: (i: number) => { mode: 'create' | 'increment'; uri: string; arg: string },
): Promise<unknown[]> {
  const startAt = Date.now() + 100;
  const answers = racers.map((r, i) => {
    r.send({ ...command(i), startAt });
    return r.nextLine();
  });
  return (await Promise.all(answers)).map((line) => JSON.parse(line));
}

/** A child process running test/fixtures/file-store-racer.ts, spoken to in lines. */
class Racer {
  readonly #child: ChildProcessWithoutNullStreams;
  #buffered = '';
  #stderr = '';
  readonly #waiting: Array<{ resolve: (line: string) => void; reject: (err: Error) => void }> = [];
  #exited: Error | undefined;

  constructor() {
    this.#child = spawn(process.execPath, ['--import', 'tsx', racerScript], { cwd: repoRoot, stdio: 'pipe' });
    this.#child.stdout.on('data', (b: Buffer) => {
      this.#buffered += b.toString();
      for (
        let nl = this.#buffered.indexOf('\n');
        nl >= 0 && this.#waiting.length > 0;
        nl = this.#buffered.indexOf('\n')
      ) {
        const line = this.#buffered.slice(0, nl);
        this.#buffered = this.#buffered.slice(nl + 1);
        this.#waiting.shift()!.resolve(line);
      }
    });
    this.#child.stderr.on('data', (b: Buffer) => (this.#stderr += b.toString()));
    this.#child.on('exit', (code) => {
      this.#exited = new Error(`racer exited with ${code}: ${this.#stderr}`);
      for (const w of this.#waiting.splice(0)) w.reject(this.#exited);
    });
  }

  send(command: object): void {
    this.#child.stdin.write(`${JSON.stringify(command)}\n`);
  }

  nextLine(): Promise<string> {
    const nl = this.#buffered.indexOf('\n');
    if (nl >= 0) {
      const line = this.#buffered.slice(0, nl);
      this.#buffered = this.#buffered.slice(nl + 1);
      return Promise.resolve(line);
    }
    if (this.#exited) return Promise.reject(this.#exited);
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.stdin.end(); // the racer's command loop ends with its stdin
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

describe('file store across processes', () => {
  test(`ifNoneMatch: exactly one of ${PROCESSES} processes creates the object`, async () => {
    const uri = `${root}/create/obj`;
    const results = (await race((i) => ({ mode: 'create', uri, arg: `writer-${i}` }))) as Array<{ won: boolean }>;
    const winners = results.flatMap((r, i) => (r.won ? [i] : []));
    expect(winners).toHaveLength(1);
    const stored = await new FileBlobStore().get(uri);
    expect(new TextDecoder().decode(stored)).toBe(`writer-${winners[0]}`);
    expect(await fs.promises.readdir(path.join(dir, 'create'))).toEqual(['obj']); // no temp or lock files left
  });

  test(`ifMatch: ${PROCESSES} processes incrementing one counter lose no update`, async () => {
    const rounds = 15;
    const uri = `${root}/cas/counter`;
    const store = new FileBlobStore();
    await store.put(uri, new TextEncoder().encode('0'));
    const results = (await race(() => ({ mode: 'increment', uri, arg: String(rounds) }))) as Array<{
      conflicts: number;
    }>;
    expect(new TextDecoder().decode(await store.get(uri))).toBe(String(PROCESSES * rounds));
    // The race was real: some compare-and-swaps lost (if none did, the test proved nothing).
    expect(results.reduce((sum, r) => sum + r.conflicts, 0)).toBeGreaterThan(0);
    expect(await fs.promises.readdir(path.join(dir, 'cas'))).toEqual(['counter']);
  });
});

describe('file store per-object lock', () => {
  // Coarsest timestamp resolution of the filesystems tests run on (ext4/tmpfs: ns; some: 10 ms).
  const TIMESTAMP_TICK_MS = 10;
  const staleAgeS = 60;

  async function counterWithLock(name: string, lockAgeS: number): Promise<{ uri: string; etag: string; lock: string }> {
    const uri = `${root}/lock/${name}`;
    const { etag } = await new FileBlobStore().put(uri, new TextEncoder().encode('0'));
    const lock = lockPathFor(fileURLToPath(uri));
    await fs.promises.writeFile(lock, '');
    const t = Date.now() / 1000 - lockAgeS;
    await fs.promises.utimes(lock, t, t);
    return { uri, etag, lock };
  }

  test('a lock left by a killed process (old mtime) does not wedge ifMatch writes', async () => {
    const { uri, etag, lock } = await counterWithLock('stale', staleAgeS);
    // Without breaking the lock the write would wait forever: the budget turns that into a failure.
    await finishesWithinBudget(
      new FileBlobStore().put(uri, new TextEncoder().encode('1'), { ifMatch: etag }),
      'an ifMatch write behind a dead lock',
    );
    expect(fs.existsSync(lock)).toBe(false);
    expect(new TextDecoder().decode(await new FileBlobStore().get(uri))).toBe('1');
  });

  test('a stale lock breaker left behind is cleared too', async () => {
    const { uri, etag, lock } = await counterWithLock('stale-breaker', staleAgeS);
    const breaker = lock.replace(/\.memocall-lock$/, '.memocall-lockbreak');
    await fs.promises.writeFile(breaker, '');
    const t = Date.now() / 1000 - staleAgeS;
    await fs.promises.utimes(breaker, t, t);
    await new FileBlobStore().put(uri, new TextEncoder().encode('1'), { ifMatch: etag });
    expect(fs.existsSync(breaker)).toBe(false);
  });

  test('a live lock makes ifMatch writes wait, then they proceed', async () => {
    const { uri, etag, lock } = await counterWithLock('live', 0);
    let settled = false;
    const writing = new FileBlobStore()
      .put(uri, new TextEncoder().encode('1'), { ifMatch: etag })
      .finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(settled).toBe(false);
    await fs.promises.unlink(lock);
    await writing;
    expect(new TextDecoder().decode(await new FileBlobStore().get(uri))).toBe('1');
  });

  test('unconditional puts and deletes take the lock too (atomic with respect to a compare-and-swap)', async () => {
    const { uri, lock } = await counterWithLock('blind', 0);
    const store = new FileBlobStore();
    const settled: string[] = [];
    const put = store.put(uri, new TextEncoder().encode('blind')).then(() => settled.push('put'));
    const del = store.delete(`${uri}`).then(() => settled.push('delete'));
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(settled).toEqual([]);
    await fs.promises.unlink(lock);
    await Promise.all([put, del]);
    expect(settled).toHaveLength(2);
  });

  test('a fresh lock is broken once it is older than lockStaleMs', async () => {
    const { uri, etag, lock } = await counterWithLock('expires', 0);
    const lockTakenAtMs = (await fs.promises.stat(lock)).mtimeMs;
    await finishesWithinBudget(
      new FileBlobStore({ lockStaleMs: 300 }).put(uri, new TextEncoder().encode('1'), { ifMatch: etag }),
      'an ifMatch write behind a lock that goes stale',
    );
    // Timestamps the filesystem recorded, not the test's clock: the new version was renamed into
    // place (which sets its ctime) only once the lock was older than lockStaleMs (timestamps may
    // be rounded to the filesystem's tick).
    const publishedAtMs = (await fs.promises.stat(fileURLToPath(uri))).ctimeMs;
    expect(publishedAtMs - lockTakenAtMs).toBeGreaterThanOrEqual(300 - TIMESTAMP_TICK_MS);
  });

  test('a waiter whose etag went stale while it waited fails', async () => {
    const { uri, etag, lock } = await counterWithLock('stale-etag', 0);
    const store = new FileBlobStore();
    const writing = store.put(uri, new TextEncoder().encode('late'), { ifMatch: etag });
    // The handler is attached at once: the write may fail before this test gets to await it.
    const refused = expect(writing).rejects.toBeInstanceOf(PreconditionFailedError);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // A new version lands while ours waits for the lock (written behind the store's back: a
    // store write would itself wait for the lock this test holds).
    const target = fileURLToPath(uri);
    await fs.promises.writeFile(`${target}.elsewhere`, 'other');
    await fs.promises.rename(`${target}.elsewhere`, target);
    await fs.promises.unlink(lock);
    await refused;
    expect(new TextDecoder().decode(await store.get(uri))).toBe('other');
    expect(await fs.promises.readdir(path.join(dir, 'lock'))).not.toContainEqual(expect.stringMatching(/memocall-tmp/));
  });
});
