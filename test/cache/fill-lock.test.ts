// The cross-process fill lock, in one process: a lock file written the way another process's
// would be (pid, host, since) stands for that process.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { withFillLock } from '../../src/cache/fill-lock.js';
import { useTempDir } from '../support/temp-dir.js';

const tempDir = useTempDir();

/** A lock file as a live (or dead) holder would have written it. */
function foreignLock(lockPath: string, record: object | string, ageMs = 0): void {
  fs.mkdirSync(path.dirname(lockPath), { recursive: true });
  fs.writeFileSync(lockPath, typeof record === 'string' ? record : JSON.stringify(record));
  if (ageMs > 0) {
    const then = new Date(Date.now() - ageMs);
    fs.utimesSync(lockPath, then, then);
  }
}

const live = () => ({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() });
const DEAD_PID = 2 ** 22 + 4321;

/** `done` that reports nothing for `misses` looks, then `value`; counts its calls. */
function doneAfter<T>(misses: number, value: T) {
  const state = { calls: 0 };
  const done = async () => (++state.calls > misses ? value : undefined);
  return { state, done };
}

describe('fill lock', () => {
  test('takes a free lock in a folder it creates, asks `done` once more, fills, and removes the lock', async () => {
    const lock = path.join(tempDir().dir, 'deep', 'locks', 'a.lock');
    let sawLock = false;
    const { state, done } = doneAfter(Infinity, 'never');
    const value = await withFillLock(lock, done, async () => {
      sawLock = JSON.parse(fs.readFileSync(lock, 'utf8')).pid === process.pid;
      return 'filled';
    });
    expect(value).toBe('filled');
    expect(sawLock).toBe(true);
    expect(state.calls).toBe(1);
    expect(fs.existsSync(lock)).toBe(false);
  });

  test('the holder does not fill when `done` already has the value (filled just before the lock was free)', async () => {
    const lock = path.join(tempDir().dir, 'b.lock');
    let fills = 0;
    const value = await withFillLock(
      lock,
      async () => 'already',
      async () => `filled ${++fills}`,
    );
    expect(value).toBe('already');
    expect(fills).toBe(0);
    expect(fs.existsSync(lock)).toBe(false);
  });

  test('a failing fill releases the lock and its error reaches the caller', async () => {
    const lock = path.join(tempDir().dir, 'c.lock');
    await expect(
      withFillLock(
        lock,
        async () => undefined,
        async () => {
          throw new Error('transfer failed');
        },
      ),
    ).rejects.toThrow('transfer failed');
    expect(fs.existsSync(lock)).toBe(false);
  });

  test('a fresh lock of a live process is waited on: the waiter returns what `done` finds, never fills, leaves the lock', async () => {
    const lock = path.join(tempDir().dir, 'd.lock');
    foreignLock(lock, live());
    const { state, done } = doneAfter(3, 'theirs');
    let fills = 0;
    const value = await withFillLock(lock, done, async () => `mine ${++fills}`, {
      staleMs: 60_000,
      minPollMs: 1,
      maxPollMs: 2,
    });
    expect(value).toBe('theirs');
    expect(fills).toBe(0);
    expect(state.calls).toBe(4);
    expect(fs.existsSync(lock)).toBe(true);
  });

  test('a lock not refreshed for longer than staleMs is broken even if its process lives', async () => {
    const lock = path.join(tempDir().dir, 'e.lock');
    foreignLock(lock, live(), 10_000);
    const value = await withFillLock(
      lock,
      async () => undefined,
      async () => 'taken over',
      { staleMs: 5_000, minPollMs: 1, maxPollMs: 2 },
    );
    expect(value).toBe('taken over');
    expect(fs.existsSync(lock)).toBe(false);
  });

  test('a lock younger than staleMs is not broken (the same lock, judged against a longer staleMs)', async () => {
    const lock = path.join(tempDir().dir, 'f.lock');
    foreignLock(lock, live(), 10_000);
    const { done } = doneAfter(5, 'waited');
    expect(await withFillLock(lock, done, async () => 'broken', { staleMs: 60_000, minPollMs: 1, maxPollMs: 2 })).toBe(
      'waited',
    );
    expect(fs.existsSync(lock)).toBe(true);
  });

  test('a dead pid of another host is not judged here (it may be alive there): the lock waits for staleness', async () => {
    const lock = path.join(tempDir().dir, 'g.lock');
    foreignLock(lock, { pid: DEAD_PID, host: `${os.hostname()}-elsewhere`, since: new Date().toISOString() });
    const { done } = doneAfter(5, 'waited');
    expect(await withFillLock(lock, done, async () => 'broken', { staleMs: 60_000, minPollMs: 1, maxPollMs: 2 })).toBe(
      'waited',
    );
    expect(fs.existsSync(lock)).toBe(true);
  });

  test('a lock without a readable pid is not taken for a dead process while fresh', async () => {
    const lock = path.join(tempDir().dir, 'h.lock');
    foreignLock(lock, { pid: 'nope', host: os.hostname() });
    const { done } = doneAfter(5, 'waited');
    expect(await withFillLock(lock, done, async () => 'broken', { staleMs: 60_000, minPollMs: 1, maxPollMs: 2 })).toBe(
      'waited',
    );
    expect(fs.existsSync(lock)).toBe(true);
  });

  test('a torn (half-written) fresh lock is waited on, not broken', async () => {
    const lock = path.join(tempDir().dir, 'i.lock');
    foreignLock(lock, '{"pid": 12');
    const { done } = doneAfter(4, 'waited');
    expect(await withFillLock(lock, done, async () => 'broken', { staleMs: 60_000, minPollMs: 1, maxPollMs: 2 })).toBe(
      'waited',
    );
    expect(fs.existsSync(lock)).toBe(true);
  });

  test('an empty lock file older than staleMs (its writer died before writing) is broken', async () => {
    const lock = path.join(tempDir().dir, 'j.lock');
    foreignLock(lock, '', 10_000);
    expect(
      await withFillLock(
        lock,
        async () => undefined,
        async () => 'taken over',
        { staleMs: 5_000, minPollMs: 1, maxPollMs: 2 },
      ),
    ).toBe('taken over');
  });

  test('the holder refreshes its lock while it fills, so a long fill is not taken for dead', async () => {
    const lock = path.join(tempDir().dir, 'k.lock');
    const staleMs = 300; // heartbeat every 100 ms
    let fills = 0;
    const fill = async () => {
      fills++;
      const first = fs.statSync(lock).mtimeMs;
      // Wait (on events: the lock's mtime moving) for two heartbeats, well past staleMs.
      let beats = 0;
      let last = first;
      while (beats < 2 || Date.now() - fs.statSync(lock).birthtimeMs < 2 * staleMs) {
        await new Promise((r) => setTimeout(r, 20));
        const now = fs.statSync(lock).mtimeMs;
        if (now > last) beats++;
        last = now;
      }
      done = 'filled';
      return 'filled';
    };
    let done: string | undefined;
    const options = { staleMs, minPollMs: 5, maxPollMs: 20 };
    const [a, b] = await Promise.all([
      withFillLock(lock, async () => done, fill, options),
      new Promise((r) => setTimeout(r, 30)).then(() => withFillLock(lock, async () => done, fill, options)),
    ]);
    expect([a, b]).toEqual(['filled', 'filled']);
    expect(fills).toBe(1);
  });

  test("a holder whose lock was broken and retaken by another does not remove the other's lock", async () => {
    const lock = path.join(tempDir().dir, 'l.lock');
    const value = await withFillLock(
      lock,
      async () => undefined,
      async () => {
        fs.rmSync(lock); // broken by someone who thought us dead...
        foreignLock(lock, { ...live(), since: 'the newcomer' }); // ...and taken by them
        return 'mine';
      },
    );
    expect(value).toBe('mine');
    expect(JSON.parse(fs.readFileSync(lock, 'utf8')).since).toBe('the newcomer');
  });
});
