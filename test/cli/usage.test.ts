import { spawn } from 'node:child_process';
import { homedir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { KEY_FORMAT_VERSION, MemoizingRunner, useRunner } from '../../src/index.js';
import { projectRoot, runCommand } from '../support/child.js';
import { useTempDir } from '../support/temp-dir.js';

const tempDir = useTempDir();
const main = path.join(projectRoot, 'dist/src/cli/main.js');
const cli = (...args: string[]) => runCommand(process.execPath, [main, ...args]);

/** A one-line message: no stack, no usage text. */
function expectOneLine(stderr: string): void {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at |internal failure/);
}

test('usage errors exit 2 with one line and no stack', async () => {
  const { uri } = tempDir();
  const cases: [string[], RegExp][] = [
    [['run', ''], /^memocall run: expected a memo URI, got an empty string$/],
    [['run', 'not-a-uri'], /^memocall run: nothing is stored at file:\/\/\/.*\/not-a-uri/],
    [['run', `${uri}/${KEY_FORMAT_VERSION}/p/f/none`], /^memocall run: nothing is stored at /],
    [['inspect', 'garbage'], /^memocall inspect: nothing is stored at file:\/\/\/.*\/garbage$/],
    [['inspect'], /^memocall inspect: missing required argument 'memo-uri'/],
    [['ls', 's3:/bucket/memo'], /did you mean 's3:\/\/bucket\/memo'\?$/],
    [['ls', '--bogus', uri], /^memocall ls: unknown option '--bogus'/],
    [['frobnicate'], /^memocall: unknown command 'frobnicate'/],
    [['worker'], /^memocall worker: worker needs --queue <redis-url>$/],
    [['cache', 'prune', '--max-bytes', 'lots'], /^memocall cache: --max-bytes: expected a byte count/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(...args);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
    expectOneLine(r.stderr);
    expect(r.stderr.trim(), args.join(' ')).toMatch(message);
  }
});

test('--help on every command and subcommand, --version from package.json', async () => {
  for (const args of [
    [],
    ['run'],
    ['inspect'],
    ['lease'],
    ['ls'],
    ['summarize'],
    ['worker'],
    ['cache'],
    ['cache', 'ls'],
    ['cache', 'verify'],
    ['cache', 'prune'],
  ]) {
    const r = await cli(...args, '--help');
    expect(r.code, `${args.join(' ')} --help: ${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: memocall${args.length ? ` ${args.join(' ')}` : ''} `));
  }
  expect((await cli('worker', '--help')).stdout).toContain('--queue <redis-url>');
  const { version } = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string };
  const v = await cli('--version');
  expect(v.code).toBe(0);
  expect(v.stdout).toBe(`${version}\n`);
});

test('every documented root form is accepted: file:// URIs, file://~, ~/, plain absolute and relative paths', async () => {
  const { dir, uri } = tempDir();
  // A root under the home directory, so that file://~ and ~/ can name it.
  const home = path.join(homedir(), `.memocall-cli-test-${process.pid}`);
  const runner = new MemoizingRunner({ blobRoot: uri, pipelineId: 'forms' });
  const homeRunner = new MemoizingRunner({ blobRoot: home, pipelineId: 'forms' });
  const inc = useRunner(runner, async (x: number) => x + 1, { id: 'forms/inc' });
  const incHome = useRunner(homeRunner, async (x: number) => x + 1, { id: 'forms/inc' });
  await inc(1);
  await incHome(1);
  try {
    const expected = await inc.memoUri(1);
    for (const root of [uri, dir, `${dir}/`]) {
      const r = await cli('ls', root);
      expect(r.code, `ls ${root}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(expected);
    }
    const relative = await runCommand(process.execPath, [main, 'ls', path.basename(dir)], { cwd: path.dirname(dir) });
    expect(relative.stdout).toContain(expected);
    const homeUri = await incHome.memoUri(1);
    expect(homeUri.startsWith(pathToFileURL(home).href)).toBe(true);
    for (const root of [`file://~/${path.basename(home)}`, `~/${path.basename(home)}`, home]) {
      const r = await cli('ls', root);
      expect(r.code, `ls ${root}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(homeUri);
    }
    // inspect takes the same forms: a memo URI's path.
    const inspected = await cli('inspect', new URL(expected).pathname);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(inspected.stdout).toContain("functionId: 'forms/inc'");
  } finally {
    (await import('node:fs')).rmSync(home, { recursive: true, force: true });
  }
});

test('a closed pipe ends the output quietly: ls | head -1', async () => {
  const { uri } = tempDir();
  const runner = new MemoizingRunner({ blobRoot: uri, pipelineId: 'pipe' });
  const id = useRunner(runner, async (x: number) => x, { id: 'pipe/id' });
  await Promise.all(Array.from({ length: 60 }, (_, i) => id(i)));
  // The reader reads one line and goes away, as `head -1` does.
  const child = spawn(process.execPath, [main, 'ls', uri], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  expect(stderr).toBe('');
  expect(code).toBe(0);
});
