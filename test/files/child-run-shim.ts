import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Shim } from '../../src/shims/shim.js';
import { projectRoot, tsxLoader } from '../support/child.js';

/**
 * A shim that runs each invocation the way a remote machine would: `memocall run <memo-uri>
 * --writer-id ID` in a fresh Node process (the CLI from source, through tsx), which reads and
 * writes only through the blob store. Resolves on exit 0, 46 (the function threw) and 47
 * (lease lost); rejects with the child's stderr otherwise. `env` is laid over the environment.
 */
export function childRunShim(env: Record<string, string> = {}): Shim & { runs: number; stderr: string[] } {
  const state = { runs: 0, stderr: [] as string[] };
  const shim: Shim = ({ argv }) =>
    new Promise<void>((resolve, reject) => {
      state.runs++;
      // The CLI registers the cloud schemes itself (setup.ts); they take their endpoints and
      // credentials from the environment.
      const child = spawn(
        process.execPath,
        ['--import', tsxLoader, path.join(projectRoot, 'src/cli/main.ts'), ...argv],
        {
          cwd: process.cwd(),
          env: { ...process.env, ...env, MEMOCALL_CODE_ROOT: projectRoot },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let err = '';
      child.stdout.resume();
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        state.stderr.push(err);
        if (code === 0 || code === 46 || code === 47) resolve();
        else reject(new Error(`memocall run exited with ${code}: ${err}`));
      });
    });
  return Object.assign(shim, state, {
    get runs() {
      return state.runs;
    },
    get stderr() {
      return state.stderr;
    },
  });
}
