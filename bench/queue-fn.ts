// The trivial function of bench/queue.ts, in a module of its own: the queue workers import it
// to run the function (and must not run the benchmark). The runner is picked by the benchmark;
// in a worker it would serve nested calls only (there are none).
import { MemoizingRunner, useRunner, type Shim } from '../src/index.js';

let current: MemoizingRunner | undefined;

export function useBenchShim(blobRoot: string, shim: Shim | undefined): void {
  current = new MemoizingRunner({ blobRoot, ...(shim ? { shim } : {}) });
}

export const trivial = useRunner(
  () => (current ??= new MemoizingRunner({ blobRoot: 'memory://bench-queue' })),
  async (i: number) => i + 1,
  { id: 'bench/queue-trivial' },
);
