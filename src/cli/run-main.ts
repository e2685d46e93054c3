// `memocall run`, alone: the program shims start in each child process. It loads only what
// running an invocation needs (not the other commands), since its start-up time is paid once per
// invocation.
//   node run-main.js run <memo-uri> [--writer-id=ID]   ≡ memocall run ...
//   node run-main.js standby                          (internal, see runner/standby-pool.ts)
// `standby` is a child started ahead of need: Node and memocall are loaded, and it waits on stdin
// for one JSON line `{ "argv": ["run", ...], "env": {...} }`, then runs exactly that invocation,
// in that environment, and exits. If stdin ends first, it exits quietly.
import { RUN_EXIT } from '../execute/remote-entry.js';
import { runCommand, RUN_USAGE, RunUsageError } from './run-command.js';

const [command, ...rest] = process.argv.slice(2);

async function main(): Promise<number> {
  if (command === 'run') return runCommand(rest);
  if (command === 'standby') {
    // While waiting, load memocall's public API too: the function's module will import it.
    const [request] = await Promise.all([readStandbyRequest(), import('../index.js')]);
    if (!request) return 0;
    // The environment of the call, not the one this process was started with a moment earlier.
    for (const key of Object.keys(process.env)) if (!(key in request.env)) delete process.env[key];
    Object.assign(process.env, request.env);
    const [again, ...args] = request.argv;
    if (again !== 'run') throw new RunUsageError(`standby expects a run request, got ${JSON.stringify(request.argv)}`);
    return runCommand(args);
  }
  throw new RunUsageError(`unknown command ${JSON.stringify(command ?? '')}`);
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
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof RunUsageError) {
      process.stderr.write(`memocall: ${err.message}\n\nusage: memocall\n${RUN_USAGE}`);
      process.exit(2);
    }
    process.stderr.write(
      `memocall: internal failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(RUN_EXIT.internal);
  },
);
