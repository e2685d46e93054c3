// The fibonacci example: every call, recursive ones included, is memoized into the default
// store (file://~/.memocall). Run it twice: the second run computes nothing.
//   npm run fib            (or: npx tsx examples/fibonacci.ts 30)
// In your own code, import from 'memocall' instead of '../src/index.js'.
import { pathToFileURL } from 'node:url';
import { pure, type Memoized } from '../src/index.js';

let computed = 0;

/**
 * The memoized function is the const `fib`, and the body calls `fib`: each recursive call goes
 * through memoization too. (A named `async function fib` would call its raw self instead.)
 */
export const fib: Memoized<[number], bigint> = pure(async (n: number): Promise<bigint> => {
  computed++;
  return n < 2 ? BigInt(n) : (await fib(n - 1)) + (await fib(n - 2));
});

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 30);
  if (!Number.isInteger(n) || n < 0) throw new Error(`usage: fibonacci <n ≥ 0>, got ${process.argv[2]}`);
  const started = performance.now();
  const value = await fib(n);
  const ms = performance.now() - started;
  console.log(`fib(${n}) = ${value}`);
  console.log(`${computed} of ${n + 1} invocations computed, the rest were memo hits; ${ms.toFixed(1)} ms`);
  console.log(`stored at ${await fib.memoUri(n)}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
