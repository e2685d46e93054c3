import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  currentLockFile,
  lockFileAgeMs,
  refreshLockFile,
  removeLockFileIfUnchanged,
  tryCreateLockFile,
} from '../../../src/blobstore/local/lock-file.js';
import { useTempDir } from '../../support/temp-dir.js';

describe('lock file primitive', () => {
  const tempDir = useTempDir();

  test('exactly one creator wins; the file holds what the holder wrote', () => {
    const lock = path.join(tempDir().dir, '.obj.lock');
    const mine = tryCreateLockFile(lock, '{"pid":1}');
    expect(mine).not.toBeNull();
    expect(tryCreateLockFile(lock)).toBeNull();
    expect(fs.readFileSync(lock, 'utf8')).toBe('{"pid":1}');
    expect(currentLockFile(lock)).toEqual(mine);
  });

  test('other failures are thrown, not taken for "held"', () => {
    const lock = path.join(tempDir().dir, 'no-such-dir', '.obj.lock');
    expect(() => tryCreateLockFile(lock)).toThrow(/ENOENT/);
  });

  test('a holder whose lock was broken and re-created leaves the new one alone', () => {
    const lock = path.join(tempDir().dir, '.obj.lock');
    const old = tryCreateLockFile(lock)!;
    // Broken as stale, then taken by someone else (ext4 may even give it the same inode).
    fs.unlinkSync(lock);
    const t = new Date(Date.now() + 5_000);
    const theirs = tryCreateLockFile(lock)!;
    fs.utimesSync(lock, t, t);
    removeLockFileIfUnchanged(lock, old);
    expect(fs.existsSync(lock)).toBe(true);
    expect(refreshLockFile(lock, old)).toBeUndefined();
    // The current holder's own identity (after its mtime change) still releases it.
    removeLockFileIfUnchanged(lock, currentLockFile(lock)!);
    expect(fs.existsSync(lock)).toBe(false);
    expect(theirs).not.toEqual(old);
  });

  test('a heartbeat makes the lock young again and keeps it releasable by its holder', () => {
    const lock = path.join(tempDir().dir, '.obj.lock');
    let held = tryCreateLockFile(lock)!;
    const past = new Date(Date.now() - 60_000);
    fs.utimesSync(lock, past, past);
    held = currentLockFile(lock)!; // the test aged it: adopt the identity it now has
    expect(lockFileAgeMs(lock)).toBeGreaterThanOrEqual(59_000);
    const refreshed = refreshLockFile(lock, held);
    expect(refreshed).toBeDefined();
    expect(lockFileAgeMs(lock)).toBeLessThan(59_000);
    removeLockFileIfUnchanged(lock, held); // the old identity no longer matches
    expect(fs.existsSync(lock)).toBe(true);
    removeLockFileIfUnchanged(lock, refreshed!);
    expect(fs.existsSync(lock)).toBe(false);
    expect(lockFileAgeMs(lock)).toBeUndefined();
  });
});
