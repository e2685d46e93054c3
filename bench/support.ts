import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The compiled bench directory (dist/bench) and the project root above dist/. */
export const benchDir = path.dirname(fileURLToPath(import.meta.url));
export const projectRoot = path.resolve(benchDir, '../..');

export function freshBlobRoot(label: string): string {
  return pathToFileURL(mkdtempSync(path.join(tmpdir(), `memocall-bench-${label}-`))).href;
}

/** Runs a compiled bench helper in a fresh Node process and returns its parsed JSON line. */
export function inFreshProcess<T>(script: string, args: string[]): T {
  const r = spawnSync(process.execPath, [path.join(benchDir, script), ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status}): ${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(line) as T;
}

export function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export function fmtMs(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`;
}
