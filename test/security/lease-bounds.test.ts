// Issue 10, finding 5: a bad lease must not block callers. A lease memocall cannot believe is
// corruption (treated as expired, taken over by compare-and-swap, warned about); a lease that is
// believable but never rewritten holds a caller at most its own TTL plus the clock allowance;
// a non-object at the lease path is an error, not a busy loop.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { lookupBlobStore, MemoizingRunner, useRunner } from '../../src/index.js';
import { adoptLease, readLease, tryAcquireLease } from '../../src/execute/lease.js';
import { LeaseLostError } from '../../src/execute/errors.js';
import { KEY_FORMAT_VERSION } from '../../src/core/key-format.js';
import { CorruptRecordError, RecordPathBlockedError } from '../../src/protocol/corrupt-record.js';
import { decodeLeaseRecord, leaseClockAllowanceMs, MAX_LEASE_TTL_MS } from '../../src/protocol/lease-record.js';
import { memoFile } from '../../src/protocol/memo-uri.js';
import { finished, spawnTs, waitForLine } from '../support/child.js';
import { asNewProcess } from '../support/fresh-process.js';
import { useTempDir } from '../support/temp-dir.js';
import { useCorruptRecordWarnings } from './records-warnings.js';

const tempDir = useTempDir();

const { warnedAbout } = useCorruptRecordWarnings();
afterEach(() => asNewProcess());

/** The caller's own TTL: small, so its budget (TTL + allowance) is a few seconds. */
const OWN_TTL_MS = 1_500;
const OWN_BUDGET_MS = OWN_TTL_MS + leaseClockAllowanceMs(OWN_TTL_MS);
/** Generous for a loaded 2-core machine; still far below any planted lease's claimed life. */
const SLACK_MS = 20_000;

const lease = (fields: Record<string, unknown>) =>
  JSON.stringify({
    writerId: 'ghost',
    generation: 7,
    heartbeatAt: Date.now(),
    ttlMs: 90_000,
    acquiredAt: Date.now(),
    hostname: 'elsewhere',
    pid: 1,
    ...fields,
  });

/** Leases from the red-team report and what crashes leave: each must be taken over at once. */
const hostileLeases: Record<string, () => string> = {
  '{}': () => '{}',
  'heartbeatAt: 8.64e15': () => lease({ heartbeatAt: 8.64e15 }),
  'heartbeatAt: "soon"': () => lease({ heartbeatAt: 'soon' }),
  'ttlMs: 1e308': () => lease({ ttlMs: 1e308 }),
  'ttlMs: 0': () => lease({ ttlMs: 0 }),
  'generation: -1': () => lease({ generation: -1 }),
  'a fractional heartbeat': () => lease({ heartbeatAt: Date.now() + 0.5 }),
  'a heartbeat an hour ahead (a fast clock)': () => lease({ heartbeatAt: Date.now() + 3_600_000 }),
  null: () => 'null',
  'an array': () => '[]',
  'torn JSON': () => lease({}).slice(0, 30),
  'NUL bytes': () => '\0'.repeat(64),
  'invalid UTF-8': () => '\xff\xfe',
};

function rootOf(kind: 'file' | 'memory'): string {
  return kind === 'file' ? tempDir().uri : `memory://leases-${randomBytes(4).toString('hex')}`;
}

function tripler(root: string) {
  let runs = 0;
  const fn = useRunner(
    new MemoizingRunner({
      blobRoot: root,
      leaseTtlMs: OWN_TTL_MS,
      waitInitialMs: 20,
      waitMaxMs: 100,
      // Without the bounds the call would wait for ever: end it, so the test fails instead of hanging.
      signal: AbortSignal.timeout(OWN_BUDGET_MS + SLACK_MS + 5_000),
    }),
    async function triple(x: number) {
      runs++;
      return x * 3;
    },
    { id: 'security/triple' },
  );
  return { fn, runs: () => runs };
}

for (const kind of ['file', 'memory'] as const) {
  describe(`on ${kind}://`, () => {
    for (const [name, make] of Object.entries(hostileLeases)) {
      test(`a corrupt lease (${name}) is treated as expired: taken over at once, with a warning`, async () => {
        const { fn, runs } = tripler(rootOf(kind));
        const memoUri = await fn.memoUri(2);
        const store = lookupBlobStore(memoUri);
        const leaseUri = memoFile.lease(memoUri);
        await store.put(leaseUri, Buffer.from(make(), 'latin1'));

        const started = performance.now();
        expect(await fn(2)).toBe(6);
        // Corruption needs no waiting at all; the bound is the caller's own budget.
        expect(performance.now() - started).toBeLessThan(OWN_BUDGET_MS + SLACK_MS);
        expect(runs()).toBe(1);
        await warnedAbout(leaseUri);
        // Replaced by a lease memocall believes, released by its holder.
        const after = await readLease(store, leaseUri);
        expect(after?.record.writerId).not.toBe('ghost');
        expect(after?.record.generation).toBeGreaterThanOrEqual(2);
        expect(after?.record.releasedAt).toBeDefined();
      }, 60_000);
    }

    test('a believable lease that is never rewritten (heartbeat a week ahead, TTL a week) holds a caller only its own TTL + allowance', async () => {
      const { fn, runs } = tripler(rootOf(kind));
      const memoUri = await fn.memoUri(3);
      const store = lookupBlobStore(memoUri);
      const leaseUri = memoFile.lease(memoUri);
      const planted = lease({ heartbeatAt: Date.now() + MAX_LEASE_TTL_MS, ttlMs: MAX_LEASE_TTL_MS });
      await store.put(leaseUri, Buffer.from(planted));
      expect(decodeLeaseRecord(Buffer.from(planted))).toBeTruthy(); // valid: only the watch can free it

      const started = performance.now();
      expect(await fn(3)).toBe(9);
      const waited = performance.now() - started;
      expect(waited).toBeGreaterThanOrEqual(OWN_BUDGET_MS); // it did respect the lease for its budget
      expect(waited).toBeLessThan(OWN_BUDGET_MS + SLACK_MS); // and not the fortnight the lease claims
      expect(runs()).toBe(1);
      const after = await readLease(store, leaseUri);
      expect(after?.record.generation).toBe(8); // taken over by compare-and-swap, counting on
    }, 60_000);

    test('a corrupt lease under a holder fences it: stillHeld is false, verify throws LeaseLostError, adoption refuses', async () => {
      const root = rootOf(kind);
      const store = lookupBlobStore(root);
      const leaseUri = `${root}/${KEY_FORMAT_VERSION}/default/security--fence/k/lease`;
      const attempt = await tryAcquireLease(store, leaseUri, 'writer-A', { ttlMs: 10_000 });
      expect(attempt.acquired).toBe(true);
      const held = attempt.acquired ? attempt.lease : undefined;
      try {
        await store.put(leaseUri, Buffer.from('{"writerId":'));
        expect(await held!.stillHeld()).toBe(false);
        await expect(adoptLease(store, leaseUri, 'writer-A')).rejects.toBeInstanceOf(LeaseLostError);
        await expect(readLease(store, leaseUri)).rejects.toBeInstanceOf(CorruptRecordError);
      } finally {
        await held?.release();
      }
    });
  });
}

describe('on file://', () => {
  test('a directory at the lease path is a clear RecordPathBlockedError, not a busy loop', async () => {
    const { fn, runs } = tripler(tempDir().uri);
    const memoUri = await fn.memoUri(4);
    mkdirSync(path.join(fileURLToPath(memoUri), 'lease', 'inner'), { recursive: true });
    const failed = await fn(4).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(RecordPathBlockedError);
    expect((failed as Error).message).toContain('/lease');
    expect(runs()).toBe(0);
  }, 60_000);

  test('a live holder that keeps refreshing is never taken over by the watch (it outlasts several budgets)', async () => {
    const { uri } = tempDir();
    // The worker's TTL is 2 s: it rewrites its lease every second, so each version is fresh.
    const holder = spawnTs('test/fixtures/takeover-worker.ts', [uri, 'hang', '2000']);
    const holderDone = finished(holder);
    try {
      await waitForLine(holder, 'computing');
      const taker = spawnTs('test/fixtures/takeover-worker.ts', [uri, 'compute', '2000']);
      const takerDone = finished(taker);
      let takerOutput = '';
      taker.stdout?.on('data', (d: Buffer) => (takerOutput += d.toString()));
      // Three budgets (2 s TTL + 2 s allowance) of the taker: a watch that ignored refreshes would fire.
      await new Promise((resolve) => setTimeout(resolve, 12_000));
      expect(takerOutput).not.toContain('computing');
      holder.kill('SIGTERM'); // releases its lease: the taker computes now
      const done = await takerDone;
      expect(done.code, done.stderr).toBe(0);
      expect(done.stdout).toMatch(/result done by \d+ with 7/);
    } finally {
      holder.kill('SIGKILL');
      await holderDone;
    }
  }, 90_000);
});
