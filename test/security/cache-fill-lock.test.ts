import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { CACHE_LOCK_CORRUPT_WARNING, withFillLock, type FillLockOptions } from '../../src/cache/fill-lock.js';
import { CACHE_FOREIGN_WARNING } from '../../src/cache/private-files.js';
import {
  formatWriterTag,
  ownWriterTag,
  processStartTicks,
  type WriterTag,
} from '../../src/blobstore/local/writer-identity.js';
import { useWarnings } from './cache-warnings.js';

/**
 * Issue 10, finding 6: a fill lock that is not JSON was never broken (torn JSON or NUL bytes, what
 * a machine crash leaves, held every waiter forever; `null` threw a raw TypeError). Now anything
 * unparsable is judged by age alone, a holder provably dead on this host (pid + start time) is
 * broken at once, and no lock holds a waiter much longer than `staleMs`, whatever its mtime says.
 */

const NOBODY = 65534;
const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const lockIn = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'memocall-sec-lock-'));
  made.push(d);
  return path.join(d, 'fill.lock');
};
const warnings = useWarnings(CACHE_LOCK_CORRUPT_WARNING, CACHE_FOREIGN_WARNING);

/** Waits for the lock like a fill does; resolves with the time it took. */
async function takeLock(lock: string, options: FillLockOptions): Promise<number> {
  const started = Date.now();
  const value = await withFillLock(
    lock,
    async () => undefined,
    async () => 'filled',
    options,
  );
  expect(value).toBe('filled');
  return Date.now() - started;
}

function plantLock(lock: string, contents: string | Buffer, ageMs = 0): void {
  fs.writeFileSync(lock, contents);
  const t = (Date.now() - ageMs) / 1000;
  fs.utimesSync(lock, t, t);
}

const UNPARSABLE: Array<[string, string | Buffer]> = [
  ['torn JSON', '{"pid":12345,"host":"'],
  ['NUL bytes', Buffer.alloc(4096)],
  ['null', 'null'],
  ['an array', '[1,2]'],
  ['a string', '"holder"'],
  ['a writer that is not a tag', JSON.stringify({ writer: 'x', pid: 1 })],
  ['a lock of an older memocall (no writer tag)', JSON.stringify({ pid: 12345, host: os.hostname() })],
  ['invalid UTF-8', Buffer.from([0xff, 0xfe, 0x7b, 0xc3])],
  ['empty', ''],
];

describe('fill locks that cannot be parsed are judged by age alone', () => {
  test.each(UNPARSABLE)(
    '%s, an hour old: broken at once, with a warning',
    async (_label, contents) => {
      const lock = lockIn();
      plantLock(lock, contents, 3600_000);
      expect(await takeLock(lock, { staleMs: 60_000 })).toBeLessThan(15_000);
      await warnings.settled();
      expect(warnings.all().map((w) => w.code)).toContain(CACHE_LOCK_CORRUPT_WARNING);
      expect(warnings.all()[0]!.message).toContain(lock);
    },
    30_000,
  );

  test('torn JSON written just now: kept while young, broken once older than staleMs', async () => {
    const lock = lockIn();
    plantLock(lock, '{"pid":1');
    const took = await takeLock(lock, { staleMs: 1500 });
    expect(took).toBeGreaterThanOrEqual(1400);
    expect(took).toBeLessThan(30_000);
  }, 40_000);

  test('a lock stamped a day in the future (a clock that jumped) is stale at once, not in a day', async () => {
    const lock = lockIn();
    fs.writeFileSync(lock, holding({ ...ownWriterTag(), host: '0badc0de' }));
    const tomorrow = (Date.now() + 24 * 3600_000) / 1000;
    fs.utimesSync(lock, tomorrow, tomorrow);
    const took = await takeLock(lock, { staleMs: 1500 });
    expect(took).toBeLessThan(30_000);
  }, 40_000);
});

describe('fill locks of dead holders are broken at once', () => {
  test('a pid reused by a live process (same pid, other start time) is a dead holder', async () => {
    const lock = lockIn();
    // This very process has the pid, but did not start at tick 1: the holder that wrote it is gone.
    plantLock(lock, holding({ ...ownWriterTag(), start: 1 }));
    expect(await takeLock(lock, { staleMs: 120_000 })).toBeLessThan(15_000);
  }, 30_000);

  test('a holder that exited (pid gone) is broken at once', async () => {
    const lock = lockIn();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('spawn', resolve));
    const tag = { ...ownWriterTag(), pid: child.pid!, start: processStartTicks(child.pid!)! };
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    plantLock(lock, holding(tag));
    expect(await takeLock(lock, { staleMs: 120_000 })).toBeLessThan(15_000);
  }, 30_000);

  test('a live holder, or one on another host, is waited for (not broken early)', async () => {
    for (const holder of [ownWriterTag(), { ...ownWriterTag(), host: '0badc0de', pid: 2 ** 22 + 5 }]) {
      const lock = lockIn();
      plantLock(lock, holding(holder));
      const waiting = takeLock(lock, { staleMs: 120_000, maxPollMs: 50 });
      const first = await Promise.race([waiting.then(() => 'taken'), sleep(1000).then(() => 'still waiting')]);
      expect(first).toBe('still waiting');
      fs.unlinkSync(lock); // the holder releases
      await waiting;
    }
  }, 30_000);
});

describe('fill locks that are not ours', () => {
  test("another user's lock file, fresh and well-formed, is broken at once with a warning", async () => {
    const lock = lockIn();
    plantLock(lock, holding({ ...ownWriterTag(), host: '0badc0de' }));
    fs.chownSync(lock, NOBODY, NOBODY);
    expect(await takeLock(lock, { staleMs: 120_000 })).toBeLessThan(15_000);
    await warnings.settled();
    expect(warnings.all().map((w) => w.code)).toContain(CACHE_FOREIGN_WARNING);
  }, 30_000);

  test('a dangling symlink at the lock path is broken at once, and its target is never created', async () => {
    const lock = lockIn();
    const target = path.join(path.dirname(lock), 'chosen-by-attacker');
    fs.symlinkSync(target, lock);
    expect(await takeLock(lock, { staleMs: 120_000 })).toBeLessThan(15_000);
    expect(fs.existsSync(target)).toBe(false);
  }, 30_000);
});

/** A lock's contents as a holder writes them. */
function holding(tag: WriterTag): string {
  return JSON.stringify({ writer: formatWriterTag(tag), pid: tag.pid, since: new Date().toISOString() });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
