// Warnings raised where a call runs reach its caller: a nested call missing from `calls`
// (MEMOCALL_UNDECLARED_CALL, also listed in the run record) and a DestFile written but not
// returned (MEMOCALL_DEST_NOT_RETURNED), both from inside subprocess children.
import path from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { DestFileContext, lookupBlobStore } from '../../../src/index.js';
import type { RunMetadata } from '../../../src/protocol/run-metadata.js';
import { useTempDir } from '../../support/temp-dir.js';
import {
  declaredCaller,
  forgetsOne,
  leaf,
  transitiveCaller,
  undeclaredCaller,
} from './fixtures/nested-call-functions.js';

const tempDir = useTempDir();
let warnings: Array<Error & { code?: string }> = [];
const onWarning = (w: Error) => warnings.push(w);
beforeEach(() => {
  warnings = [];
  process.on('warning', onWarning);
  process.env.MEMOCALL_TEST_ROOT = tempDir().uri;
});
afterEach(() => {
  process.off('warning', onWarning);
});

/** The run records of the calls stored under `memoUri`. */
async function runRecords(memoUri: string): Promise<RunMetadata[]> {
  const store = lookupBlobStore(memoUri);
  const uris: string[] = [];
  for await (const uri of store.list(`${memoUri}/meta/`)) uris.push(uri);
  return Promise.all(uris.map(async (u) => JSON.parse(new TextDecoder().decode(await store.get(u))) as RunMetadata));
}

const afterWarnings = () => new Promise((resolve) => setImmediate(resolve)); // emitted on the next tick

test('a nested call missing from `calls`, made in a child: the caller gets one MEMOCALL_UNDECLARED_CALL warning naming both functions and the fix; the run record lists the call', async () => {
  expect(await undeclaredCaller(1)).toBe(4);
  expect(await undeclaredCaller(2)).toBe(6); // the same pair again: no second warning
  await afterWarnings();
  const undeclared = warnings.filter((w) => w.code === 'MEMOCALL_UNDECLARED_CALL');
  expect(undeclared).toHaveLength(1);
  expect(undeclared[0]!.message).toContain(
    `${undeclaredCaller.functionId} calls the memoized function ${leaf.functionId}`,
  );
  expect(undeclared[0]!.message).toContain('{ calls: [leaf] }');
  const [record] = await runRecords(await undeclaredCaller.memoUri(1));
  expect(record?.nestedCalls).toEqual([{ functionId: leaf.functionId, declared: false }]);
}, 120_000);

test('declared callees, directly or through another declared callee, are listed in the run record and not warned about', async () => {
  expect(await declaredCaller(1)).toBe(6);
  expect(await transitiveCaller(1)).toBe(8);
  await afterWarnings();
  expect(warnings.filter((w) => w.code === 'MEMOCALL_UNDECLARED_CALL')).toEqual([]);
  const [declared] = await runRecords(await declaredCaller.memoUri(1));
  expect(declared?.nestedCalls).toEqual([{ functionId: leaf.functionId, declared: true }]);
  const [transitive] = await runRecords(await transitiveCaller.memoUri(1));
  expect(transitive?.nestedCalls).toEqual([
    { functionId: declaredCaller.functionId, declared: true },
    { functionId: leaf.functionId, declared: true },
  ]);
}, 120_000);

test('a DestFile written but not returned in a child: the MEMOCALL_DEST_NOT_RETURNED warning reaches the caller, and the run record carries it', async () => {
  const { dir, uri } = tempDir();
  const ctx = new DestFileContext(`${uri}/outputs`, path.join(dir, 'work'));
  await forgetsOne(ctx.dest('kept.txt'), ctx.dest('forgotten.txt'));
  await afterWarnings();
  const forgotten = warnings.filter((w) => w.code === 'MEMOCALL_DEST_NOT_RETURNED');
  expect(forgotten).toHaveLength(1);
  expect(forgotten[0]!.message).toMatch(/DestFile .*\/outputs\/forgotten\.txt was written at .* but not returned/);
  const memoUri = await forgetsOne.memoUri(ctx.dest('kept.txt'), ctx.dest('forgotten.txt'));
  const [record] = await runRecords(memoUri);
  expect(record?.warnings).toEqual([expect.stringMatching(/^MEMOCALL_DEST_NOT_RETURNED: DestFile .*forgotten\.txt/)]);
}, 120_000);
