// Waits that could never end are refused at once: a module's top-level work calling, from the
// child that imported it, what the caller is computing; a call whose lease is held by a caller
// further up the chain of processes.
import path from 'node:path';
import { expect, test } from 'vitest';
import { RemoteError, withSignal } from '../../../src/index.js';
import { finished, spawnTs } from '../../support/child.js';
import { useTempDir } from '../../support/temp-dir.js';
import { cycleA } from './fixtures/parent-chain-functions.js';

const tempDir = useTempDir();

test('a module calling its memoized function at its top level: the child that imports it fails at once, naming the module and the fix', async () => {
  const { uri } = tempDir();
  const program = spawnTs('test/shims/subprocess/fixtures/import-time-work.ts', [], {
    env: { MEMOCALL_TEST_ROOT: uri },
  });
  // Without the check, the child waits for its caller's lease forever: stop it then.
  const hang = setTimeout(() => program.kill('SIGKILL'), 90_000);
  const result = await finished(program);
  clearTimeout(hang);
  expect(result.signal, 'the program hung').toBeNull();
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('MEMOCALL_SUBPROCESS_FAILED');
  expect(result.stderr).toContain('ImportTimeCallError');
  expect(result.stderr).toContain(path.join('test', 'shims', 'subprocess', 'fixtures', 'import-time-work.ts'));
  expect(result.stderr).toContain('if (import.meta.url === pathToFileURL(process.argv[1]).href)');
  expect(result.stdout).not.toContain('answer');
}, 120_000);

test('a call whose lease a caller further up the process chain holds fails at once (MEMOCALL_WAITS_ON_PARENT) instead of waiting forever', async () => {
  process.env.MEMOCALL_TEST_ROOT = tempDir().uri;
  // cycleA(1) runs in a child, calls cycleB(1) in a grandchild, which calls cycleA(1): its lease
  // is held by this process, which waits for both.
  const error = await withSignal(AbortSignal.timeout(90_000), () => cycleA(1)).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RemoteError);
  const chain: string[] = [];
  for (let e: unknown = error; e instanceof Error; e = e.cause) chain.push(`${e.name}: ${e.message}`);
  expect(chain.join('\n')).toMatch(/WaitsOnParentError: .*cycleA .*is being computed by a caller of this process/);
}, 120_000);
