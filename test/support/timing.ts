/**
 * The one wall-clock tolerance of the tests. Tests never assert sub-second durations: this
 * machine runs several suites at once on 2 cores, where a step that takes 5 ms alone can take
 * seconds. Timing claims are checked instead through the delays the code asked for (e.g. the
 * `delayMs` of cloud retry events) or through timestamps the code left behind (file mtimes).
 * Only "it finishes rather than waits forever" needs a wall clock, and gets this budget:
 * far above any normal run, far below the test timeout, so a hang fails with a clear message.
 * `MEMOCALL_TEST_SLOW_MS` overrides it (e.g. under a profiler).
 */
export const SLOW_MACHINE_BUDGET_MS = Number(process.env.MEMOCALL_TEST_SLOW_MS ?? 10_000);

/** Resolves with `promise`'s value, or rejects if it has not settled within the budget. */
export async function finishesWithinBudget<T>(
  promise: Promise<T>,
  what: string,
  budgetMs = SLOW_MACHINE_BUDGET_MS,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${budgetMs} ms`)), budgetMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The stall timeout of cloud stores under fault-injection tests: a connection silent this long is
 * cut and the request retried. The proxies' `stall` faults never answer, so any value works for
 * them; it must only stay above what a loaded azurite or RGW takes to answer a real request (over
 * a second when several suites share the 2 cores), or real requests are counted as stalls.
 */
export const TEST_STALL_TIMEOUT_MS = Number(process.env.MEMOCALL_TEST_STALL_MS ?? 3_000);
