import { tmpdir } from 'node:os';
import { expect, test } from 'vitest';
import { KEY_FORMAT_VERSION } from '../../src/core/key-format.js';
import { runCommand, tsxLoader } from '../support/child.js';
import { useTempDir } from '../support/temp-dir.js';

const tempDir = useTempDir();

function storedAt(stdout: string): string {
  const line = stdout.split('\n').find((l) => l.startsWith('stored at '));
  if (!line) throw new Error(`no "stored at" line in: ${stdout}`);
  return line.slice('stored at '.length);
}

test('a function has the same id and memo URI from .ts through tsx and from compiled .js (source-mapped or not), from any working directory', async () => {
  const { uri } = tempDir();
  const env = { MEMOCALL_BLOB_ROOT: uri };
  const runs = [
    await runCommand(process.execPath, ['--import', tsxLoader, 'examples/fibonacci.ts', '6'], { env }),
    await runCommand(process.execPath, ['dist/examples/fibonacci.js', '6'], { env }),
    // Source-mapped stacks show memocall's compiled frames as src/*.ts: still not user code.
    await runCommand(process.execPath, ['--enable-source-maps', 'dist/examples/fibonacci.js', '6'], { env }),
    await runCommand(process.execPath, ['--import', tsxLoader, `${process.cwd()}/examples/fibonacci.ts`, '6'], {
      env,
      cwd: tmpdir(),
    }),
    await runCommand(process.execPath, [`${process.cwd()}/dist/examples/fibonacci.js`, '6'], { env, cwd: tmpdir() }),
  ];
  for (const r of runs) expect(r.code, r.stderr).toBe(0);
  const uris = runs.map((r) => storedAt(r.stdout));
  expect(uris[0]).toContain(`/${KEY_FORMAT_VERSION}/default/examples~fibonacci--fib/`);
  for (const u of uris) expect(u).toBe(uris[0]);
  // The first run computed all 7 invocations; every later one, compiled or not, only hit.
  expect(runs[0]!.stdout).toContain('7 of 7 invocations computed');
  for (const r of runs.slice(1)) expect(r.stdout).toContain('0 of 7 invocations computed');
}, 60_000);
