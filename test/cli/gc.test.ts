import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { formatWriterTag, ownWriterTag } from '../../src/blobstore/local/writer-identity.js';
import { runCommand } from '../support/child.js';
import { useTempDir } from '../support/temp-dir.js';

// `memocall gc <root>`: the temp files a killed writer left in a file:// store are listed
// (--dry-run) or removed; live writers' files and stored objects stay.

const tempDir = useTempDir();
const cli = (...args: string[]) => runCommand(process.execPath, ['dist/src/cli/main.js', ...args]);

function deadWriterTag(): string {
  const exited = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return formatWriterTag({ ...ownWriterTag(), pid: Number(exited.stdout), start: 12345 });
}

function plant(dir: string, name: string, tag: string): string {
  const file = path.join(dir, 'memocall-v2', 'p', 'k', `.${name}.memocall-tmp-${tag}-0`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.alloc(100, 1));
  const fiveMinutesAgo = (Date.now() - 5 * 60_000) / 1000;
  fs.utimesSync(file, fiveMinutesAgo, fiveMinutesAgo);
  return file;
}

test('gc --dry-run lists a dead writer’s temp file; gc removes it and keeps a live writer’s', async () => {
  const { dir } = tempDir();
  const dead = plant(dir, 'result', deadWriterTag());
  const live = plant(dir, 'lease', formatWriterTag(ownWriterTag()));
  fs.writeFileSync(path.join(path.dirname(dead), 'invocation'), 'stored object');

  const dry = await cli('gc', dir, '--dry-run');
  expect(dry.code).toBe(0);
  expect(dry.stdout).toContain(`would remove ${dead}`);
  expect(dry.stdout).not.toContain(live);
  expect(fs.existsSync(dead)).toBe(true);

  const run = await cli('gc', `file://${dir}`, '--json');
  expect(run.code).toBe(0);
  const report = JSON.parse(run.stdout) as { removed: Array<{ path: string; reason: string }>; kept: number };
  expect(report.removed).toEqual([expect.objectContaining({ path: dead, reason: 'writer-dead' })]);
  expect(report.kept).toBe(1);
  expect(fs.existsSync(dead)).toBe(false);
  expect(fs.existsSync(live)).toBe(true);
  expect(fs.readFileSync(path.join(path.dirname(dead), 'invocation'), 'utf8')).toBe('stored object');
});

test('gc of a cloud or memory root is a usage error (exit 2), nothing touched', async () => {
  const run = await cli('gc', 'memory://x');
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/gc cleans file:\/\/ stores only/);
});
