import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** tsx's loader by absolute URL, so children started in any working directory can use it. */
export const tsxLoader = pathToFileURL(path.join(projectRoot, 'node_modules/tsx/dist/loader.mjs')).href;

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts a TypeScript file of this project in a child Node process through tsx. */
export function spawnTs(
  file: string,
  args: string[] = [],
  opts: { env?: Record<string, string>; cwd?: string } = {},
): ChildProcess {
  return spawn(process.execPath, ['--import', tsxLoader, path.resolve(projectRoot, file), ...args], {
    cwd: opts.cwd ?? projectRoot,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Collects a child's output and waits for it to end. */
export function finished(child: ChildProcess): Promise<ChildResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs a command to its end and collects its output. */
export function runCommand(
  command: string,
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string } = {},
): Promise<ChildResult> {
  const child = spawn(command, args, {
    cwd: opts.cwd ?? projectRoot,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return finished(child);
}

/** Resolves when the child prints a line containing `marker` on stdout. */
export function waitForLine(child: ChildProcess, marker: string, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () => reject(new Error(`child did not print ${marker} within ${timeoutMs} ms; got: ${buffered}`)),
      timeoutMs,
    );
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      const line = buffered.split('\n').find((l) => l.includes(marker));
      if (line) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    child.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`child ended before printing ${marker}; got: ${buffered}`));
    });
  });
}
