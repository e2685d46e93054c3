import fs from 'node:fs';
import { describe, expect, test } from 'vitest';
import { lockPathFor } from '../../../src/blobstore/local/file-object-lock.js';
import { raceSkewedIncrements } from '../../fixtures/skewed-race.js';
import { deadProcessTag, lockRecordOf } from './dead-process.js';

// Issue 18, finding 1: the file store's object lock used to be judged stale by comparing the
// waiter's clock with the lock file's kernel timestamp, so a process a minute ahead broke live
// locks and conditional writes lost updates (13 of 1,800 in this race before the fix). Real
// processes under Debian's `faketime` (which skews Date.now and the times a process stamps on
// files) race compare-and-swap increments of one object.

const SKEWS_S = [60, -60, 0, 60, -60, 0];
const ROUNDS = 300;

/** The race proves nothing unless faketime really moved the racers' clocks. */
function expectSkewTookEffect(clockOffsetsMs: number[]): void {
  SKEWS_S.forEach((skew, i) => {
    if (skew !== 0) expect(Math.abs(clockOffsetsMs[i]! - skew * 1000), `racer ${i} clock offset`).toBeLessThan(15_000);
  });
}

describe('file store object lock under clock skew', () => {
  test(`${SKEWS_S.length} processes at ±60 s × ${ROUNDS} compare-and-swap increments lose no update`, async () => {
    const result = await raceSkewedIncrements({ rounds: ROUNDS, skewsS: SKEWS_S });
    expectSkewTookEffect(result.clockOffsetsMs);
    expect(result.lost, JSON.stringify(result)).toBe(0);
    expect(result.final).toBe(SKEWS_S.length * ROUNDS);
    // The race was real: some compare-and-swaps lost (if none did, the test proved nothing).
    expect(result.conflicts).toBeGreaterThan(0);
  }, 240_000);

  test('skewed processes all waiting behind a dead holder break its lock once and lose no update', async () => {
    const dead = await deadProcessTag();
    let lock = '';
    // Ten minutes: only the holder's death, not the racers' patience, can free the lock in time.
    const lockStaleMs = 600_000;
    const result = await raceSkewedIncrements({
      rounds: 100,
      skewsS: SKEWS_S,
      lockStaleMs,
      beforeGo: (counter) => {
        lock = lockPathFor(counter);
        // A holder of this host killed inside its critical section; its lock's mtime is an hour old,
        // which every racer's clock, skewed or not, once called stale: age is no longer evidence.
        fs.writeFileSync(lock, lockRecordOf(dead));
        const hourAgo = Date.now() / 1000 - 3600;
        fs.utimesSync(lock, hourAgo, hourAgo);
      },
    });
    expectSkewTookEffect(result.clockOffsetsMs);
    expect(result.lost, JSON.stringify(result)).toBe(0);
    expect(fs.existsSync(lock)).toBe(false);
  }, 240_000);
});
