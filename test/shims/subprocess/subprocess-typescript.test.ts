// A TypeScript user module under an installed (compiled) memocall: the subprocess shim compiles
// the module graph once with esbuild, by content, and runs children on plain Node, with the same
// function ids, `import.meta.url` and nested calls as under tsx; `typescript: 'tsx'` keeps tsx.
import { cpSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, test } from 'vitest';
import { projectRoot, runCommand, tsxLoader } from '../../support/child.js';
import { useTempDir } from '../../support/temp-dir.js';

const tempDir = useTempDir();

/** An app with memocall installed from dist/ (source maps left out: see issue 9, finding 1) and a TypeScript pipeline. */
function makeApp(): { app: string; blobRoot: string } {
  const { dir, uri } = tempDir();
  const app = path.join(dir, 'app');
  const installed = path.join(app, 'node_modules', 'memocall');
  mkdirSync(installed, { recursive: true });
  cpSync(path.join(projectRoot, 'package.json'), path.join(installed, 'package.json'));
  cpSync(path.join(projectRoot, 'dist', 'src'), path.join(installed, 'dist', 'src'), {
    recursive: true,
    filter: (file) => !file.endsWith('.map'),
  });
  // What an install brings along: memocall's dependencies, and the user's tsx (with its esbuild).
  for (const entry of readdirSync(path.join(projectRoot, 'node_modules'))) {
    if (entry.startsWith('.') || entry === 'memocall') continue;
    symlinkSync(path.join(projectRoot, 'node_modules', entry), path.join(app, 'node_modules', entry));
  }
  writeFileSync(path.join(app, 'package.json'), '{ "name": "ts-app", "type": "module", "private": true }\n');
  mkdirSync(path.join(app, 'src'));
  writeFileSync(
    path.join(app, 'src', 'describe.ts'),
    "export const describe = (n: number): string => String(n) + ' described in ' + import.meta.url;\n",
  );
  writeFileSync(
    path.join(app, 'src', 'pipeline.ts'),
    `import { MemoizingRunner, subprocess, useRunner, type Memoized } from 'memocall';
import { describe } from './describe.js';

const runner = new MemoizingRunner({
  blobRoot: process.env.APP_BLOB_ROOT!,
  shim: subprocess({ concurrency: 2, typescript: (process.env.APP_TYPESCRIPT ?? 'compile') as 'compile' | 'tsx' }),
});

export const square = useRunner(runner, async (n: number) => ({
  square: n * n,
  described: describe(n),
  execArgv: process.execArgv,
  pid: process.pid,
}));

export const total: Memoized<[number], number> = useRunner(runner, async (n: number): Promise<number> =>
  n <= 0 ? 0 : n + (await total(n - 1)),
);
`,
  );
  writeFileSync(
    path.join(app, 'src', 'main.ts'),
    `import { square, total } from './pipeline.js';
const result = await square(7);
process.stdout.write(JSON.stringify({ result, total: await total(3), ids: [square.functionId, total.functionId], squareUri: await square.memoUri(7) }) + '\\n');
`,
  );
  return { app, blobRoot: uri };
}

interface AppOutput {
  result: { square: number; described: string; execArgv: string[]; pid: number };
  total: number;
  ids: string[];
  squareUri: string;
}

async function runApp(app: string, env: Record<string, string>): Promise<AppOutput> {
  const run = await runCommand(process.execPath, ['--import', tsxLoader, path.join(app, 'src', 'main.ts')], {
    cwd: app,
    env,
  });
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as AppOutput;
}

const compiledGraphs = (app: string) => {
  const dir = path.join(app, 'node_modules', '.cache', 'memocall', 'typescript');
  return existsSync(dir) ? readdirSync(dir).filter((name) => /^[0-9a-f]{32}$/.test(name)) : [];
};

test('a TypeScript module under compiled memocall: children run its compiled twin on plain Node, with the same ids and import.meta.url; compiled once per content', async () => {
  const { app, blobRoot } = makeApp();
  const out = await runApp(app, { APP_BLOB_ROOT: blobRoot });
  expect(out.result.square).toBe(49);
  expect(out.result.pid).not.toBe(process.pid);
  expect(out.result.execArgv.join(' ')).not.toMatch(/tsx/); // no loader in the child
  expect(out.result.described).toBe(`7 described in ${pathToFileURL(path.join(app, 'src', 'describe.ts')).href}`);
  expect(out.total).toBe(6); // nested children (each n in its own) through the compiled graph
  expect(out.ids).toEqual(['src/pipeline--square', 'src/pipeline--total']);
  expect(out.squareUri).toContain('/src~pipeline--square/');
  const [graph] = compiledGraphs(app);
  expect(compiledGraphs(app)).toHaveLength(1);
  const twin = path.join(app, 'node_modules', '.cache', 'memocall', 'typescript', graph!, 'src');
  expect(readdirSync(twin).sort()).toEqual(['describe.js', 'describe.js.map', 'pipeline.js', 'pipeline.js.map']);

  // The same sources again: the compiled graph is reused. A changed source: compiled anew.
  const again = await runApp(app, { APP_BLOB_ROOT: tempDir().uri });
  expect(again.result.execArgv.join(' ')).not.toMatch(/tsx/);
  expect(compiledGraphs(app)).toEqual([graph]);
  writeFileSync(
    path.join(app, 'src', 'describe.ts'),
    "export const describe = (n: number): string => String(n) + ' (v2) described in ' + import.meta.url;\n",
  );
  const changed = await runApp(app, { APP_BLOB_ROOT: tempDir().uri });
  expect(changed.result.described).toMatch(/^7 \(v2\) described in /);
  expect(compiledGraphs(app)).toHaveLength(2);
}, 180_000);

test("subprocess({ typescript: 'tsx' }) keeps tsx's loader in the child; ids and results are the same", async () => {
  const { app, blobRoot } = makeApp();
  const out = await runApp(app, { APP_BLOB_ROOT: blobRoot, APP_TYPESCRIPT: 'tsx' });
  expect(out.result.square).toBe(49);
  expect(out.result.execArgv.join(' ')).toMatch(/tsx/);
  expect(out.result.described).toBe(`7 described in ${pathToFileURL(path.join(app, 'src', 'describe.ts')).href}`);
  expect(out.total).toBe(6);
  expect(out.ids).toEqual(['src/pipeline--square', 'src/pipeline--total']);
  expect(compiledGraphs(app)).toEqual([]);
}, 180_000);
