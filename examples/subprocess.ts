// Memoized functions run in child processes: each call that must compute starts
// `node <memocall>/dist/src/shims/subprocess/child-main.js run <memo-uri> --writer-id=...` (that is, `memocall
// run`), at most two at a time. The child imports this module to find the function, so nothing
// at the top level may do work: `main()` only runs when this file is the program.
//   npx tsc -p tsconfig.json && node dist/examples/subprocess.js
//   (or: npx tsx examples/subprocess.ts; the children then load TypeScript through tsx too)
// Set MEMOCALL_BLOB_ROOT to store elsewhere than ~/.memocall. In your own code, import from
// 'memocall' instead of '../src/index.js'.
import { pathToFileURL } from 'node:url';
import { MemoizingRunner, RemoteError, subprocess, useRunner, withSignal } from '../src/index.js';

const runner = new MemoizingRunner({
  blobRoot: process.env.MEMOCALL_BLOB_ROOT ?? 'file://~/.memocall',
  pipelineId: 'examples',
  shim: subprocess({ concurrency: 2 }),
});

/** Counts words; says which process did it, and with which Node flags. */
export const wordCount = useRunner(runner, async (text: string) => {
  console.log(`counting ${text.length} characters`); // shows up prefixed: [wordCount Xyz...] counting ...
  return { words: text.split(/\s+/).filter(Boolean).length, pid: process.pid, execArgv: process.execArgv };
});

/** Throws for negative numbers: the error comes back as a RemoteError with the remote stack. */
export const squareRoot = useRunner(runner, async (n: number) => {
  if (n < 0) throw new RangeError(`no real square root of ${n}`);
  return Math.sqrt(n);
});

async function main(): Promise<void> {
  const texts = ['the quick brown fox', 'jumps over', 'the lazy dog'];
  const counts = await Promise.all(texts.map((t) => wordCount(t)));
  for (const [i, c] of counts.entries())
    console.log(
      `${JSON.stringify(texts[i])}: ${c.words} words, counted by pid ${c.pid} (this is ${process.pid}), flags ${JSON.stringify(c.execArgv)}`,
    );
  console.log(`squareRoot(2) = ${await squareRoot(2)}`);
  try {
    await squareRoot(-4);
  } catch (err) {
    if (!(err instanceof RemoteError)) throw err;
    console.log(
      `squareRoot(-4) threw ${err.name}: ${err.message} (remote stack starts: ${err.remoteStack?.split('\n')[1]?.trim()})`,
    );
  }
  // Give up on a call after a deadline: the child is stopped and the lease released.
  await withSignal(AbortSignal.timeout(60_000), () => wordCount('with a deadline'));
  console.log(`stored under ${await wordCount.memoUri(texts[0]!)}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
