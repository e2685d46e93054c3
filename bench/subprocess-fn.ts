// The trivial function of bench/subprocess.ts. A module of its own: each child imports it to run
// the function, and must not run the benchmark again. The runner is picked per call (the bench
// switches shims between its two series); in a child it only serves nested calls (there are none).
import { MemoizingRunner, samethread, subprocess, useRunner, type Shim } from '../src/index.js';

let current: MemoizingRunner | undefined;

export function useShim(
  blobRoot: string,
  shim: 'samethread' | 'subprocess' | Shim,
  opts: { prestart?: number } = {},
): void {
  const chosen =
    shim === 'subprocess'
      ? subprocess({ concurrency: 1, prestart: opts.prestart ?? 1 })
      : shim === 'samethread'
        ? samethread()
        : shim;
  current = new MemoizingRunner({ blobRoot, shim: chosen });
}

export const trivial = useRunner(
  () => (current ??= new MemoizingRunner({ blobRoot: process.env.MEMOCALL_BLOB_ROOT ?? 'memory://bench-subprocess' })),
  async (i: number) => i + 1,
  { id: 'bench/subprocess-trivial' },
);
