import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { lockPathFor } from '../../../src/blobstore/local/file-object-lock.js';
import { FileBlobStore } from '../../../src/blobstore/local/file-store.js';
import {
  HeldLockFile,
  LockFileWatch,
  lockHolderOf,
  readLockFileVersion,
  removeLockFileVersion,
} from '../../../src/blobstore/local/lock-file.js';
import { ownWriterTag } from '../../../src/blobstore/local/writer-identity.js';
import { useTempDir } from '../../support/temp-dir.js';
import { finishesWithinBudget } from '../../support/timing.js';
import { deadProcessTag, liveProcessTag, lockRecordOf } from './dead-process.js';

// Issue 18, finding 1: whether a lock is abandoned is judged by its holder's liveness and by how
// long the waiter itself has seen the same lock version, on its own clock; never by the lock
// file's timestamp against the waiter's clock. The watches here get a clock the test moves.

const STALE_MS = 5000;
const HOUR_S = 3600;
// Coarsest timestamp resolution of the filesystems tests run on (ext4/tmpfs: ns; some: 10 ms).
const TIMESTAMP_TICK_MS = 10;

function ageFile(file: string, seconds: number): void {
  const t = Date.now() / 1000 - seconds;
  fs.utimesSync(file, t, t);
}

/** A waiter's clock the test moves by hand. */
function handClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const sleepers: Array<ReturnType<typeof spawn>> = [];
afterEach(() => {
  for (const s of sleepers.splice(0)) s.kill('SIGKILL');
});

/** A live process of this host (not this one) to name as a lock's holder. */
async function liveSleeper(): Promise<number> {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  sleepers.push(child);
  await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  return child.pid!;
}

describe('lock staleness without comparing clocks', () => {
  const tempDir = useTempDir();

  test('a lock an hour old by its timestamp is held until the waiter itself has seen it unchanged for the stale period', async () => {
    const lock = path.join(tempDir().dir, '.obj.memocall-lock');
    fs.writeFileSync(lock, lockRecordOf(await liveProcessTag(await liveSleeper())));
    ageFile(lock, HOUR_S);
    const clock = handClock();
    const watch = new LockFileWatch(STALE_MS, clock.now);
    expect(watch.look(lock).state).toBe('held');
    clock.advance(STALE_MS);
    expect(watch.look(lock).state).toBe('held');
    clock.advance(1);
    expect(watch.look(lock)).toMatchObject({ state: 'abandoned', reason: 'unchanged' });
  });

  test("a lock whose timestamp is in the future (a holder's or server's clock ahead) is judged the same way", () => {
    const lock = path.join(tempDir().dir, '.obj.memocall-lock');
    fs.writeFileSync(lock, ''); // an older memocall's lock: no holder recorded
    ageFile(lock, -HOUR_S);
    const clock = handClock();
    const watch = new LockFileWatch(STALE_MS, clock.now);
    expect(watch.look(lock).state).toBe('held');
    clock.advance(STALE_MS + 1);
    expect(watch.look(lock)).toMatchObject({ state: 'abandoned', reason: 'unchanged' });
  });

  test('every new version (refreshed, or re-created) restarts the waiter’s count', () => {
    const lock = path.join(tempDir().dir, '.obj.memocall-lock');
    const held = HeldLockFile.tryAcquire(lock)!;
    const clock = handClock();
    const watch = new LockFileWatch(STALE_MS, clock.now);
    for (let beat = 0; beat < 4; beat++) {
      expect(watch.look(lock).state).toBe('held');
      clock.advance(STALE_MS - 1);
      expect(held.refresh()).toBe(true); // a long operation's heartbeat
    }
    expect(watch.look(lock).state).toBe('held');
    held.release();
    expect(watch.look(lock).state).toBe('free');
    // Released and taken again at once (ext4 may even reuse the inode): another version.
    const again = HeldLockFile.tryAcquire(lock)!;
    clock.advance(STALE_MS + 1);
    expect(watch.look(lock).state).toBe('held');
    clock.advance(STALE_MS + 1);
    expect(watch.look(lock).state).toBe('abandoned');
    again.release();
  });

  test('a lock naming a dead process of this host is abandoned at once, whatever its age', async () => {
    const lock = path.join(tempDir().dir, '.obj.memocall-lock');
    fs.writeFileSync(lock, lockRecordOf(await deadProcessTag()));
    const watch = new LockFileWatch(STALE_MS, handClock().now);
    expect(watch.look(lock)).toMatchObject({ state: 'abandoned', reason: 'holder-dead' });
  });

  test('a live holder, a reused pid, another host and another boot are judged only by the watch', async () => {
    const dir = tempDir().dir;
    const live = await liveProcessTag(await liveSleeper());
    const cases = {
      live,
      // The pid of a live process, recorded with another start time: the pid was reused, the
      // recorded holder is dead. The one case of this list that is provably dead.
      reused: { ...live, start: live.start + 1 },
      otherHost: { ...(await deadProcessTag()), host: 'abcdef01' },
      otherBoot: { ...(await deadProcessTag()), boot: 'abcdef01' },
    };
    const states = Object.fromEntries(
      Object.entries(cases).map(([name, tag]) => {
        const lock = path.join(dir, `.${name}.memocall-lock`);
        fs.writeFileSync(lock, lockRecordOf(tag));
        return [name, new LockFileWatch(STALE_MS, handClock().now).look(lock).state];
      }),
    );
    expect(states).toEqual({ live: 'held', reused: 'abandoned', otherHost: 'held', otherBoot: 'held' });
  });

  test('a holder records itself; a holder whose lock was broken and re-created leaves the new one alone', () => {
    const lock = path.join(tempDir().dir, '.obj.memocall-lock');
    const old = HeldLockFile.tryAcquire(lock)!;
    expect(HeldLockFile.tryAcquire(lock)).toBeUndefined();
    expect(lockHolderOf(fs.readFileSync(lock, 'latin1'))).toEqual(ownWriterTag());
    // Broken as abandoned by a waiter, then taken by another process.
    expect(removeLockFileVersion(lock, readLockFileVersion(lock)!)).toBe(true);
    const theirs = HeldLockFile.tryAcquire(lock)!;
    const theirRecord = fs.readFileSync(lock, 'latin1');
    expect(old.refresh()).toBe(false); // not written into their lock
    expect(old.held).toBe(false);
    old.release();
    expect(fs.readFileSync(lock, 'latin1')).toBe(theirRecord);
    theirs.release();
    expect(fs.existsSync(lock)).toBe(false);
  });

  test('the file store breaks a dead holder’s lock at once, not after the stale period', async () => {
    const { dir } = tempDir();
    const uri = `${pathToFileURL(dir).href}/counter`;
    // Ten minutes of patience: only the holder's death can free the lock within the budget.
    const store = new FileBlobStore({ lockStaleMs: 600_000 });
    const { etag } = await store.put(uri, new TextEncoder().encode('0'));
    const lock = lockPathFor(path.join(dir, 'counter'));
    fs.writeFileSync(lock, lockRecordOf(await deadProcessTag()));
    await finishesWithinBudget(
      store.put(uri, new TextEncoder().encode('1'), { ifMatch: etag }),
      'an ifMatch write behind a dead holder’s lock',
    );
    expect(new TextDecoder().decode(await store.get(uri))).toBe('1');
    expect(fs.readdirSync(dir)).toEqual(['counter']);
  });

  test('the file store breaks a live holder’s lock an hour old by its timestamp only after watching it for lockStaleMs', async () => {
    const { dir } = tempDir();
    const uri = `${pathToFileURL(dir).href}/counter`;
    const lockStaleMs = 300;
    const store = new FileBlobStore({ lockStaleMs });
    const { etag } = await store.put(uri, new TextEncoder().encode('0'));
    const lock = lockPathFor(path.join(dir, 'counter'));
    // A live holder frozen inside its critical section (or one on another host) with a lock whose
    // timestamp is an hour behind the waiter's clock: a minute of skew was enough to break it at once.
    fs.writeFileSync(lock, lockRecordOf(await liveProcessTag(await liveSleeper())));
    ageFile(lock, HOUR_S);
    // Timestamps the filesystem records (one clock, the kernel's), not the test's clock.
    const marker = path.join(dir, '.started');
    fs.writeFileSync(marker, '');
    const startedAtMs = fs.statSync(marker).ctimeMs;
    await finishesWithinBudget(
      store.put(uri, new TextEncoder().encode('1'), { ifMatch: etag }),
      'an ifMatch write behind a lock nobody refreshes',
    );
    const publishedAtMs = fs.statSync(path.join(dir, 'counter')).ctimeMs;
    expect(publishedAtMs - startedAtMs).toBeGreaterThanOrEqual(lockStaleMs - TIMESTAMP_TICK_MS);
    expect(new TextDecoder().decode(await store.get(uri))).toBe('1');
  });
});
