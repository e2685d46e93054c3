// Memoized functions run as Kubernetes Jobs through the stand-in API server (fake-kube-api.ts).
// The caller's runner is set by the test (`useK8sTestRunner`) or by k8s-caller.ts; in a Job's
// process this module is imported only to find the functions. Environment (forwarded into Jobs
// by the shim, as every MEMOCALL_* variable is):
//   MEMOCALL_TEST_ROOT  the blob root of runners built here
//   MEMOCALL_TEST_LOG   a file each execution appends `<name> <arg> <pid>` to
import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoizingRunner, useRunner } from '../../../src/index.js';

let configured: MemoizingRunner | undefined;

export function useK8sTestRunner(runner: MemoizingRunner): void {
  configured = runner;
}

const runner = () =>
  (configured ??= new MemoizingRunner({ blobRoot: process.env.MEMOCALL_TEST_ROOT ?? 'memory://k8s-functions' }));

function logExecution(name: string, arg: unknown): void {
  const log = process.env.MEMOCALL_TEST_LOG;
  if (log) appendFileSync(log, `${name} ${JSON.stringify(arg)} ${process.pid}\n`);
}

export const square = useRunner(runner, async (x: number) => {
  logExecution('square', x);
  return { squared: x * x, pid: process.pid, job: process.env.MEMOCALL_K8S_JOB_NAME ?? null };
});

export class BudgetError extends Error {
  constructor(
    message: string,
    readonly budget: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BudgetError';
  }
}

export const explode = useRunner(runner, async (what: string): Promise<number> => {
  logExecution('explode', what);
  throw new BudgetError(`over budget for ${what}`, 7, { cause: new TypeError('inner cause') });
});

/** Prints `started <pid>` and sleeps: the tests kill or abort meanwhile. */
export const nap = useRunner(runner, async (ms: number, tag: string) => {
  logExecution('nap', tag);
  process.stdout.write(`started ${process.pid}\n`);
  await sleep(ms);
  return `napped ${ms} in ${process.pid}`;
});

/** Dies with `code` without storing anything: an infrastructure failure (the pod is retried). */
export const crash = useRunner(runner, async (code: number): Promise<never> => {
  logExecution('crash', code);
  process.exit(code);
});
