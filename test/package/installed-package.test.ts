import { readdirSync, readFileSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { KEY_FORMAT_VERSION } from '../../src/core/key-format.js';
import { projectRoot } from '../support/child.js';
import { cleanEnv, makeUserApps, run, tscBin, type UserApps } from './user-app.js';

// memocall as its users get it: packed, installed from the tarball (or linked) into an app
// outside this repository, and run the ways TypeScript is run.

const appFiles: Record<string, string> = {
  'package.json': JSON.stringify({ name: 'memocall-user-app', private: true, type: 'module' }),
  'tsconfig.json': JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'nodenext',
      moduleResolution: 'nodenext',
      strict: true,
      sourceMap: true,
      skipLibCheck: false,
      types: ['node'],
      rootDir: 'src',
      outDir: 'dist',
    },
    include: ['src'],
  }),
  'tsconfig.readme.json': JSON.stringify({
    extends: './tsconfig.json',
    compilerOptions: { noEmit: true, rootDir: '.' },
    include: ['readme'],
  }),
  'src/pipeline.ts': `import { MemoizingRunner, subprocess, useRunner, type Memoized } from 'memocall';

const blobRoot = process.env.APP_BLOB_ROOT ?? 'memory://app';
const here = new MemoizingRunner({ blobRoot, pipelineId: 'app' });
const inChild = new MemoizingRunner({ blobRoot, pipelineId: 'app', shim: subprocess() });

// Recursion through the memoized const: every call is memoized.
export const fib: Memoized<[number], number> = useRunner(here, async (n: number): Promise<number> =>
  n < 2 ? n : (await fib(n - 1)) + (await fib(n - 2)),
);

// Runs in a child process, which imports this module and calls fib there.
export const fibSum = useRunner(inChild, async (n: number) => {
  let sum = 0;
  for (let i = 0; i <= n; i++) sum += await fib(i);
  return { sum, pid: process.pid };
});
`,
  'src/main.ts': `import { fib, fibSum } from './pipeline.js';

const value = await fib(12);
const { sum, pid } = await fibSum(12);
// raw is the function as written.
const raw: (n: number) => Promise<{ sum: number; pid: number }> = fibSum.raw;
console.log(
  JSON.stringify({
    value,
    sum,
    rawIsFunction: typeof raw === 'function',
    ranInChild: pid !== process.pid,
    functionIds: [fib.functionId, fibSum.functionId],
    uris: [await fib.memoUri(12), await fibSum.memoUri(12)],
  }),
);
`,
};

/** fib(0..12) and fibSum(12): the child's calls of fib are hits when it names fib as the caller does. */
const EXECUTIONS = 14;

let apps: UserApps;

beforeAll(async () => {
  apps = await makeUserApps(appFiles);
  // The compiled variant: the app's own tsc build, JavaScript with source maps beside it.
  const built = await run(tscBin, ['-p', 'tsconfig.json', '--skipLibCheck'], apps.tarballApp);
  expect(built.code, built.stdout + built.stderr).toBe(0);
}, 180_000);

afterAll(() => {
  if (apps) rmSync(apps.root, { recursive: true, force: true });
});

interface Variant {
  name: string;
  app: () => string;
  args: () => string[];
}

const tsx: Variant = { name: 'tsx', app: () => apps.tarballApp, args: () => [apps.tsxCli, 'src/main.ts'] };
const compiled: Variant = { name: 'node', app: () => apps.tarballApp, args: () => ['dist/main.js'] };
const sourceMapped: Variant = {
  name: 'node --enable-source-maps',
  app: () => apps.tarballApp,
  args: () => ['--enable-source-maps', 'dist/main.js'],
};
const linkedTsx: Variant = { name: 'tsx, linked', app: () => apps.linkedApp, args: () => [apps.tsxCli, 'src/main.ts'] };

interface PipelineOutput {
  value: number;
  sum: number;
  rawIsFunction: boolean;
  ranInChild: boolean;
  functionIds: string[];
  uris: string[];
}

let stores = 0;

function newStore(): string {
  const store = path.join(apps.root, `store-${++stores}`);
  mkdirSync(store);
  return store;
}

async function runPipeline(variant: Variant, store: string): Promise<PipelineOutput> {
  const blobRoot = pathToFileURL(store).href;
  const result = await run(process.execPath, variant.args(), variant.app(), cleanEnv({ APP_BLOB_ROOT: blobRoot }));
  expect(result.code, `${variant.name}: ${result.stderr}`).toBe(0);
  const output = JSON.parse(result.stdout.trim().split('\n').pop() ?? '') as PipelineOutput;
  // URIs without the store's own location, to compare across stores.
  return { ...output, uris: output.uris.map((uri) => uri.slice(blobRoot.length)) };
}

/** Executions recorded in a store: one meta record each. */
function executions(store: string): number {
  return readdirSync(store, { recursive: true, withFileTypes: true }).filter(
    (entry) => entry.isFile() && path.basename(entry.parentPath) === 'meta',
  ).length;
}

function expectPipeline(output: PipelineOutput): void {
  expect(output).toMatchObject({ value: 144, sum: 376, rawIsFunction: true, ranInChild: true });
  expect(output.functionIds).toEqual(['src/pipeline--fib', 'src/pipeline--fibSum']);
}

test('installed from the tarball, run by tsx, by node on the compiled JS and with --enable-source-maps: the same ids and memo URIs, in the caller and in the subprocess child; a run after any other is all hits', async () => {
  const variants = [tsx, compiled, sourceMapped];
  const outputs: PipelineOutput[] = [];
  for (const [i, variant] of variants.entries()) {
    // Each variant computes into a store of its own (its child included); the next variant then
    // finds everything there.
    const store = newStore();
    const first = await runPipeline(variant, store);
    expectPipeline(first);
    expect(executions(store), `${variant.name}, first run`).toBe(EXECUTIONS);
    const next = variants[(i + 1) % variants.length]!;
    const second = await runPipeline(next, store);
    expect(second).toEqual(first);
    expect(executions(store), `${next.name} after ${variant.name}`).toBe(EXECUTIONS);
    outputs.push(first);
  }
  for (const output of outputs) expect(output.uris).toEqual(outputs[0]!.uris);
  expect(outputs[0]!.uris[0]).toMatch(new RegExp(`^/${KEY_FORMAT_VERSION}/app/src~pipeline--fib/`));
}, 120_000);

test('linked into the app (npm link, a directory install, workspaces), under tsx: the same ids and URIs; a second run is all hits', async () => {
  const store = newStore();
  const first = await runPipeline(linkedTsx, store);
  expectPipeline(first);
  expect(executions(store)).toBe(EXECUTIONS);
  const reference = await runPipeline(compiled, newStore());
  expect(first.uris).toEqual(reference.uris);
  expect(await runPipeline(linkedTsx, store)).toEqual(first);
  expect(executions(store)).toBe(EXECUTIONS);
}, 120_000);

test('installing the tarball asks to run no script of memocall (npm lists the ones it skips)', () => {
  expect(apps.installOutput).not.toMatch(/memocall@[^\s]+ \(/);
});

test("memocall's types compile in an app with skipLibCheck: false (no extra @types needed)", async () => {
  const checked = await run(tscBin, ['-p', 'tsconfig.json', '--noEmit'], apps.tarballApp);
  expect(checked.code, checked.stdout + checked.stderr).toBe(0);
}, 60_000);

test('every TypeScript snippet of the README compiles against the installed package', async () => {
  const readme = readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
  const snippets = [...readme.matchAll(/^```(?:ts|typescript)\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
  expect(snippets.length).toBeGreaterThan(0);
  const dir = path.join(apps.tarballApp, 'readme');
  mkdirSync(dir, { recursive: true });
  // Each snippet is a module of its own (export {} keeps one without imports a module).
  for (const [i, text] of snippets.entries())
    writeFileSync(path.join(dir, `snippet-${i + 1}.ts`), `${text}\nexport {};\n`);
  const checked = await run(tscBin, ['-p', 'tsconfig.readme.json'], apps.tarballApp);
  expect(checked.code, checked.stdout + checked.stderr).toBe(0);
}, 60_000);
