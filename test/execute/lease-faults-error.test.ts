/**
 * Issue 18, finding 3: a holder paused between its fence and its `error` write (SIGSTOP) must not
 * replace the error of the run that took its lease over, and callers with `rerunErrors: false`
 * get the error of the run that held the lease.
 */
import { describe, expect, test } from 'vitest';
import { lookupBlobStore } from '../../src/blobstore/registry.js';
import { MemoizingRunner, useRunner } from '../../src/index.js';
import { memoFile } from '../../src/protocol/memo-uri.js';
import { decodeErrorRecord, encodeErrorRecord } from '../../src/protocol/error-record.js';
import { finished, spawnTs, waitForLine } from '../support/child.js';
import { useTempDir } from '../support/temp-dir.js';

const tempDir = useTempDir();
const FIXTURE = 'test/fixtures/paused-error-holder.ts';
const TTL = '1500';

async function storedFiles(root: string, suffix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const uri of lookupBlobStore(root).list(root)) if (uri.endsWith(suffix)) found.push(uri);
  return found;
}

test('a holder stopped between its fence and its error write never replaces the error of the run that took over', async () => {
  const { uri } = tempDir();
  const holderA = spawnTs(FIXTURE, [uri, TTL, 'A', 'pause-error-write']);
  const doneA = finished(holderA);
  await waitForLine(holderA, 'writing error');
  holderA.kill('SIGSTOP'); // fenced already; its write not yet made
  try {
    // B finds A's lease unrefreshed, takes it over, runs, stores its error and gets it.
    const runB = await finished(spawnTs(FIXTURE, [uri, TTL, 'B']));
    expect(runB.code, runB.stderr).toBe(0);
    expect(runB.stdout).toContain('running B');
    expect(runB.stdout).toContain('caller got: thrown by B for 7');
  } finally {
    holderA.kill('SIGCONT');
  }
  const runA = await doneA;
  expect(runA.code, runA.stderr).toBe(0);
  // A's late write found B's error: it wrote nothing, and as a caller it received B's error.
  expect(runA.stdout).toContain('caller got: thrown by B for 7');
  expect(runA.stdout.match(/running/g)).toHaveLength(1);

  const [errorUri] = await storedFiles(uri, '/error');
  const stored = decodeErrorRecord(await lookupBlobStore(uri).get(errorUri!));
  expect(stored.error.message).toBe('thrown by B for 7');
  // A left a record of what it did not publish.
  const lost = await storedFiles(uri, '.json');
  const lostRace = lost.filter((u) => u.includes('/lost-race/'));
  expect(lostRace).toHaveLength(1);
  const record = JSON.parse(new TextDecoder().decode(await lookupBlobStore(uri).get(lostRace[0]!))) as {
    outcome: string;
    detail: string;
  };
  expect(record.outcome).toBe('lease-lost');
  expect(record.detail).toMatch(/thrown by A for 7.*wrote nothing/);

  // A later caller that does not re-run errors gets the error of the run that held the lease.
  const runC = await finished(spawnTs(FIXTURE, [uri, TTL, 'C']));
  expect(runC.code, runC.stderr).toBe(0);
  expect(runC.stdout).not.toContain('running C');
  expect(runC.stdout).toContain('caller got: thrown by B for 7');
}, 90_000);

describe('an error already stored is replaced only by the holder of the lease, by compare-and-swap', () => {
  function failing(root: string, rerunErrors: boolean) {
    let runs = 0;
    const fn = useRunner(
      new MemoizingRunner({ blobRoot: root, leaseTtlMs: 2_000, rerunErrors }),
      async (n: number): Promise<number> => {
        runs++;
        throw new Error(`run ${runs} failed for ${n}`);
      },
    );
    return { fn, runs: () => runs };
  }

  test('a corrupt error is replaced by the error of the run that held the lease', async () => {
    const { fn, runs } = failing(tempDir().uri, false);
    const memoUri = await fn.memoUri(1);
    const store = lookupBlobStore(memoUri);
    await store.put(memoFile.error(memoUri), new TextEncoder().encode('{"torn'));
    await expect(fn(1)).rejects.toThrow('run 1 failed for 1');
    expect(runs()).toBe(1);
    expect(decodeErrorRecord(await store.get(memoFile.error(memoUri))).error.message).toBe('run 1 failed for 1');
  });

  test("a re-run (rerunErrors: true) replaces an earlier holder's error with its own", async () => {
    const { fn, runs } = failing(tempDir().uri, true);
    const memoUri = await fn.memoUri(2);
    const store = lookupBlobStore(memoUri);
    const earlier = {
      error: { name: 'Error', message: 'from an earlier holder' },
      runId: 'r0',
      writerId: 'w0',
      functionId: 'f',
      finishedAt: 'then',
    };
    await store.put(memoFile.error(memoUri), encodeErrorRecord(earlier));
    await expect(fn(2)).rejects.toThrow('run 1 failed for 2');
    expect(runs()).toBe(1);
    expect(decodeErrorRecord(await store.get(memoFile.error(memoUri))).error.message).toBe('run 1 failed for 2');
  });
});
