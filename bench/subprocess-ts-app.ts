// A TypeScript app for bench/subprocess.ts: memocall installed from dist/ (as an npm install
// would put it), a trivial function in a .ts module, and a .ts program run with tsx that times
// N sequential cold calls through samethread, subprocess (compiled children) and subprocess with
// `typescript: 'tsx'`, and prints one JSON line per series.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const FN = `import { MemoizingRunner, samethread, subprocess, useRunner } from 'memocall';

let current: MemoizingRunner | undefined;

export function useShim(blobRoot: string, mode: 'samethread' | 'compile' | 'tsx'): void {
  current = new MemoizingRunner({
    blobRoot,
    shim: mode === 'samethread' ? samethread() : subprocess({ concurrency: 1, prestart: 1, typescript: mode }),
  });
}

export const trivial = useRunner(
  () => (current ??= new MemoizingRunner({ blobRoot: process.env.MEMOCALL_BLOB_ROOT ?? 'memory://bench-ts' })),
  async (i: number) => i + 1,
  { id: 'bench/subprocess-trivial-ts' },
);
`;

const MAIN = `import { trivial, useShim } from './fn.js';

const n = Number(process.argv[2]);
const base = process.argv[3]!;
for (const mode of ['samethread', 'compile', 'tsx'] as const) {
  useShim(base + '/' + mode, mode);
  await trivial(-1); // warm-up (and, for 'compile', the one compilation)
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    if ((await trivial(i)) !== i + 1) throw new Error('wrong result');
    times.push(performance.now() - t);
  }
  process.stdout.write(JSON.stringify({ mode, times }) + '\\n');
}
`;

/** Makes the app in a temp directory; returns its directory and its program. */
export function makeTypeScriptApp(projectRoot: string): { app: string; main: string } {
  const app = mkdtempSync(path.join(tmpdir(), 'memocall-bench-ts-app-'));
  const installed = path.join(app, 'node_modules', 'memocall');
  mkdirSync(installed, { recursive: true });
  cpSync(path.join(projectRoot, 'package.json'), path.join(installed, 'package.json'));
  // Without source maps: under tsx they would map memocall's frames to its sources (issue 9, finding 1).
  cpSync(path.join(projectRoot, 'dist', 'src'), path.join(installed, 'dist', 'src'), {
    recursive: true,
    filter: (file) => !file.endsWith('.map'),
  });
  for (const entry of readdirSync(path.join(projectRoot, 'node_modules'))) {
    if (entry.startsWith('.') || entry === 'memocall') continue;
    symlinkSync(path.join(projectRoot, 'node_modules', entry), path.join(app, 'node_modules', entry));
  }
  writeFileSync(path.join(app, 'package.json'), '{ "name": "bench-ts-app", "type": "module", "private": true }\n');
  mkdirSync(path.join(app, 'src'));
  writeFileSync(path.join(app, 'src', 'fn.ts'), FN);
  writeFileSync(path.join(app, 'src', 'main.ts'), MAIN);
  return { app, main: path.join(app, 'src', 'main.ts') };
}
