// The program the subprocess shim starts in each child: `memocall run` alone. It loads only what
// running an invocation needs (not the CLI's other commands), since its start-up time is paid
// once per invocation. It lives beside the shim so the shim finds it without reaching into
// another layer (child-node-flags.ts); as a program, it imports setup.ts (the one exception to
// the layer rule, see .dependency-cruiser.cjs).
//   node child-main.js run <memo-uri> [--writer-id=ID]   ≡ memocall run ...
//   node child-main.js standby                          (see standby-pool.ts)
// `standby` is a child started ahead of need: Node and memocall are loaded, and it waits on stdin
// for one JSON line `{ "argv": ["run", ...], "env": {...} }`, then runs exactly that invocation,
// in that environment, and exits. If stdin ends first, it exits quietly.
import '../../setup.js';
import { ConfigurationError } from '../../core/configuration-error.js';
import { markShimChild } from '../../execute/parent-chain.js';
import { runAndReport } from '../../execute/run-and-report.js';
import { relayWarningsToParent } from './child-warnings.js';
import { importChildModule } from './child-module.js';
import { parseRunArgv } from '../../protocol/run-argv.js';
import { RUN_EXIT } from '../../protocol/run-request.js';

const USAGE = 'usage: child-main run <memo-uri> [--writer-id=ID] | child-main standby\n';

/** A command line this program cannot understand: exit 2. */
function usage(problem: string): number {
  process.stderr.write(`memocall: ${problem}\n\n${USAGE}`);
  return 2;
}

function run(argv: readonly string[]): Promise<number> | number {
  relayWarningsToParent(); // after a spare adopted the call's environment, which says whether to
  let request: ReturnType<typeof parseRunArgv>;
  try {
    request = parseRunArgv(argv, (flag) => process.stderr.write(`memocall run: ignoring unknown option ${flag}\n`));
  } catch (err) {
    if (err instanceof ConfigurationError) return usage(err.message);
    throw err;
  }
  return importChildModule().then(() => runAndReport(request));
}

async function main(argv: string[]): Promise<number> {
  // Memoized calls made outside the invocation (a module's top-level work) are refused here.
  markShimChild();
  const [command] = argv;
  if (command === 'run') return run(argv);
  if (command === 'standby') {
    // While waiting, load memocall's public API too: the function's module will import it.
    const [request] = await Promise.all([readStandbyRequest(), import('../../index.js')]);
    if (!request) return 0;
    // The environment of the call, not the one this process was started with a moment earlier.
    for (const key of Object.keys(process.env)) if (!(key in request.env)) delete process.env[key];
    Object.assign(process.env, request.env);
    return run(request.argv);
  }
  return usage(`unknown command ${JSON.stringify(command ?? '')}`);
}

interface StandbyRequest {
  argv: string[];
  env: Record<string, string>;
}

function readStandbyRequest(): Promise<StandbyRequest | undefined> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      process.stdin.destroy(); // one request per process
      try {
        resolve(JSON.parse(buffered.slice(0, newline)) as StandbyRequest);
      } catch (err) {
        reject(err);
      }
    });
    process.stdin.on('end', () => resolve(undefined));
    process.stdin.on('error', () => resolve(undefined));
  });
}

// Exit as soon as the outcome is stored: timers or sockets the user's code left open must not
// keep the child (and the shim waiting for it) alive.
main(process.argv.slice(2)).then(
  // One turn of the event loop first: warnings emitted by the run (process.emitWarning, delivered
  // on a later tick) are then written, and relayed to the caller.
  (code) => setImmediate(() => process.exit(code)),
  (err: unknown) => {
    process.stderr.write(
      `memocall: internal failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(RUN_EXIT.internal);
  },
);
