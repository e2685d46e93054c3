import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { availableParallelism } from 'node:os';
import { abortErrorOf, throwIfAborted } from '../../execute/call-signal.js';
import { isTypeScriptFile, remoteEntryFile, runsUnderTsx, tsxImportFlags } from './child-node-flags.js';
import { forwardLines, OutputTail } from './child-output.js';
import { reemitChildWarning, RELAY_WARNINGS_ENV } from './child-warnings.js';
import { CHILD_MODULE_ENV } from './child-module.js';
import { compiledTypeScriptModule } from './typescript-build.js';
import { codeRootOf } from '../../identity/code-root.js';
import { ConcurrencyLimit } from '../concurrency-limit.js';
import { ConfigurationError } from '../../core/configuration-error.js';
import { SubprocessError } from './errors.js';
import { lookupFunction } from '../../identity/function-registry.js';
import { PARENT_WRITERS_ENV, parentWritersForChild } from '../../execute/parent-chain.js';
import { runArgv } from '../../protocol/run-argv.js';
import { RUN_EXIT } from '../../protocol/run-request.js';
import type { Shim, ShimContext, ShimRequest } from '../shim.js';
import { sendStandbyRequest, StandbyPool } from './standby-pool.js';
import { beforeDyingOfSignal, isTerminating, onTermination, stoppedByTermination } from '../../execute/termination.js';

export interface SubprocessOptions {
  /**
   * Most child processes running at once, across every call of this shim. Nested calls made
   * inside a child do not count: they run in that child's own process, under its own shim.
   * Default: `os.availableParallelism()`.
   */
  concurrency?: number;
  /** Node flags for each child (tsx's loader is added when the code is TypeScript). Default `[]`. */
  execArgv?: string[];
  /** Laid on top of the caller's environment for each child. Default `{}`. */
  env?: Record<string, string>;
  /** On cancellation a child gets SIGTERM, then SIGKILL after this long. Default 5 000 ms. */
  killGraceMs?: number;
  /**
   * Where the children's stdout and stderr go: `'prefix'` (default) to this process's, each line
   * prefixed with `[<function> <args key>] `; `'inherit'`, unchanged; `'ignore'`, nowhere.
   */
  output?: 'prefix' | 'inherit' | 'ignore';
  /**
   * Once the shim has started two children, keep this many more started ahead (Node and
   * memocall loaded, waiting on stdin): a call then skips most of a child's start-up. Still one
   * fresh process per invocation. Spares end after `prestartIdleMs` unused. `0` turns it off.
   * Default 1.
   */
  prestart?: number;
  /** How long an unused spare child waits before it ends. Default 10 000 ms. */
  prestartIdleMs?: number;
  /**
   * How a child runs a TypeScript function module when memocall itself is compiled JavaScript:
   * `'compile'` (default) compiles the module and the TypeScript it imports once with esbuild, if
   * installed, into `node_modules/.cache/memocall/typescript/` under the code root (by content)
   * and runs it on plain Node, falling back to tsx for what it cannot compile exactly (see
   * typescript-build.ts); `'tsx'` always loads tsx in the child (about 120 ms more per child).
   */
  typescript?: 'compile' | 'tsx';
}

/** Set in every child: nested children then stay in its process group (see `runChild`). */
const NESTED_ENV = 'MEMOCALL_SUBPROCESS_DEPTH';
/** After a child exited, how long to wait for output still in its pipes. */
const DRAIN_MS = 1_000;

/**
 * A shim that runs each invocation in a child Node process:
 * `node [execArgv] <memocall>/shims/subprocess/child-main.js run <memo-uri> --writer-id=<id>` (`memocall run`).
 * The child inherits the environment (plus `env`), and `MEMOCALL_CODE_ROOT` so it finds the
 * function's module from any working directory. It resolves when the child has exited with 0,
 * 46 (the function threw: `error` is stored) or 47 (the lease is someone else's); it rejects
 * with a `SubprocessError` for anything else: the child could not start, memocall failed in it
 * (exit 1, with its stderr), or a signal killed it. On abort the child gets SIGTERM, then
 * SIGKILL, and the call rejects with a `CallAbortedError`.
 */
export function subprocess(options: SubprocessOptions = {}): Shim {
  const settings: Settings = {
    concurrency: options.concurrency ?? availableParallelism(),
    execArgv: [...(options.execArgv ?? [])],
    env: { ...options.env },
    killGraceMs: options.killGraceMs ?? 5_000,
    output: options.output ?? 'prefix',
    prestart: options.prestart ?? 1,
    prestartIdleMs: options.prestartIdleMs ?? 10_000,
    typescript: options.typescript ?? 'compile',
  };
  if (settings.typescript !== 'compile' && settings.typescript !== 'tsx')
    throw new ConfigurationError(
      `subprocess({ typescript }) must be 'compile' or 'tsx', got ${JSON.stringify(settings.typescript)}`,
    );
  if (!Number.isInteger(settings.prestart) || settings.prestart < 0)
    throw new ConfigurationError(`subprocess({ prestart }) must be a whole number ≥ 0, got ${settings.prestart}`);
  if (!(settings.killGraceMs >= 0))
    throw new ConfigurationError(`subprocess({ killGraceMs }) must be ≥ 0, got ${settings.killGraceMs}`);
  const limit = new ConcurrencyLimit(settings.concurrency);
  const state: ShimState = {
    settings,
    standby: new StandbyPool(settings.prestart, settings.prestartIdleMs),
    started: 0,
  };
  const shim: Shim = async (request, ctx) => {
    // The runner takes the slot before the lease (ctx.slotHeld); a direct caller gets one here.
    const free = ctx.slotHeld ? undefined : await limit.acquire(ctx.signal);
    try {
      await runChild(request, ctx, state);
    } finally {
      free?.();
    }
  };
  shim.slots = limit;
  return shim;
}

type Settings = Required<SubprocessOptions>;

interface ShimState {
  settings: Settings;
  standby: StandbyPool;
  /** Children started so far: a spare is kept only for a shim in repeated use. */
  started: number;
}

async function runChild(request: ShimRequest, ctx: ShimContext, state: ShimState): Promise<void> {
  throwIfAborted(ctx.signal, ctx.memoUri);
  // After SIGINT/SIGTERM/SIGHUP nothing new starts.
  if (isTerminating()) return stoppedByTermination(ctx.memoUri);
  const argv = runArgv({ memoUri: request.memoUri, writerId: request.writerId });
  const { settings } = state;
  const location = lookupFunction(ctx.functionId)?.location;
  const codeRoot = location?.codeRoot ?? codeRootOf(process.cwd());
  const entry = remoteEntryFile();
  // A TypeScript module under compiled memocall: its compiled twin spares the child tsx's loader.
  const compiled =
    !entry.typescript &&
    settings.typescript === 'compile' &&
    location?.codeRoot !== undefined &&
    isTypeScriptFile(location.runtimeModule) &&
    !runsUnderTsx(settings.execArgv)
      ? await compiledTypeScriptModule(path.join(location.codeRoot, location.runtimeModule!), location.codeRoot)
      : undefined;
  throwIfAborted(ctx.signal, ctx.memoUri);
  if (isTerminating()) return stoppedByTermination(ctx.memoUri);
  const typescript = !compiled && (entry.typescript || isTypeScriptFile(location?.runtimeModule) || runsUnderTsx());
  const loader = typescript && !runsUnderTsx(settings.execArgv) ? tsxImportFlags(codeRoot) : [];
  const nodeArgs = [...loader, ...settings.execArgv, entry.file];
  const depth = Number(process.env[NESTED_ENV] ?? 0);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MEMOCALL_CODE_ROOT: codeRoot,
    [NESTED_ENV]: String(depth + 1),
    // The leases the callers above hold while they wait for this child (see parent-chain.ts).
    [PARENT_WRITERS_ENV]: parentWritersForChild(request.writerId),
    // Read through a pipe, its output can carry memocall's warnings to be raised here.
    [RELAY_WARNINGS_ENV]: settings.output === 'inherit' ? '0' : '1',
    // The compiled twin of the function's module, imported by the child first ('' for none).
    [CHILD_MODULE_ENV]: compiled?.file ?? '',
    ...settings.env,
  };
  // A top-level child leads a process group of its own and its descendants: stopping it stops
  // them all. (Ctrl-C still reaches it: this process forwards termination, see below.)
  const group = depth === 0 && process.platform !== 'win32';
  const spawnWith = (args: string[], stdin: 'ignore' | 'pipe') =>
    spawn(process.execPath, [...nodeArgs, ...args], {
      env,
      stdio: [
        stdin,
        settings.output === 'inherit' ? 'inherit' : 'pipe',
        settings.output === 'inherit' ? 'inherit' : 'pipe',
      ],
      detached: group,
      windowsHide: true,
    });
  // Spares are interchangeable only when started with the same Node flags and NODE_OPTIONS.
  const key = JSON.stringify([nodeArgs, env.NODE_OPTIONS ?? '', settings.output]);

  let child = state.standby.take(key);
  if (child) sendStandbyRequest(child, argv, env);
  else child = spawnWith(argv, 'ignore');
  if (settings.prestart > 0 && ++state.started >= 2) state.standby.fill(key, () => spawnWith(['standby'], 'pipe'));

  const tail = new OutputTail();
  if (settings.output !== 'inherit') {
    const prefix = prefixOf(ctx);
    const show = settings.output === 'prefix';
    forwardLines(child.stdout!, prefix, show ? (t) => process.stdout.write(t) : undefined);
    forwardLines(child.stderr!, prefix, show ? (t) => process.stderr.write(t) : undefined, (line) => {
      if (reemitChildWarning(line)) return true; // memocall's warnings become this process's
      tail.push(line);
      return false;
    });
  }
  return supervise(child, group, ctx, settings.killGraceMs, tail);
}

/** Waits for the child; stops it on abort; maps how it ended to resolve or reject. */
function supervise(
  child: ChildProcess,
  group: boolean,
  ctx: ShimContext,
  killGraceMs: number,
  tail: OutputTail,
): Promise<void> {
  const { memoUri, signal } = ctx;
  return new Promise<void>((resolve, reject) => {
    let stopping = false;
    let killTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    let spawnError: Error | undefined;
    let settled = false;
    // Set when this process's own terminating signal stopped the child: the call then ends as the
    // signal decided (never settling if the process dies of it, else CallAbortedError), whenever
    // the child's exit arrives — possibly after the clean-up window has closed.
    let endedByTermination: Promise<never> | undefined;
    const fail = (err: Error) => {
      if (endedByTermination && !signal?.aborted) {
        endedByTermination.then(resolve, reject);
        return;
      }
      // Stopped (or failed) while this process terminates: a rejection would reach the user's
      // `await` and end the program with exit 1 and a stack instead of by the signal.
      if (isTerminating() && !signal?.aborted) stoppedByTermination(memoUri).then(resolve, reject);
      else reject(err);
    };

    const stop = () => {
      if (stopping) return;
      stopping = true;
      sendSignal(child, group, 'SIGTERM');
      killTimer = setTimeout(() => sendSignal(child, group, 'SIGKILL'), killGraceMs);
    };
    const stopForTermination = () => {
      endedByTermination = stoppedByTermination(memoUri);
      endedByTermination.catch(() => undefined); // handled when the child's exit arrives
      stop();
    };
    const live: LiveChild = {
      stop: stopForTermination,
      kill: () => sendSignal(child, group, 'SIGKILL'),
      exited: new Promise((r) => child.once('exit', () => r())),
    };
    liveChildren.add(live);
    stopChildrenOnTermination();
    signal?.addEventListener('abort', stop, { once: true });

    const finish = (code: number | null, sig: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      clearTimeout(drainTimer);
      signal?.removeEventListener('abort', stop);
      liveChildren.delete(live);
      if (stopping) {
        // Whatever the child left behind in its group goes with it.
        sendSignal(child, group, 'SIGKILL');
        fail(
          signal?.aborted
            ? abortErrorOf(signal, memoUri)
            : new SubprocessError(memoUri, 'the child was stopped', {
                exitCode: code,
                signal: sig,
                stderrTail: tail.toString(),
              }),
        );
        return;
      }
      if (spawnError) {
        fail(
          new SubprocessError(memoUri, `the child process could not be started (${spawnError.message})`, {
            cause: spawnError,
          }),
        );
        return;
      }
      if (code === RUN_EXIT.ok || code === RUN_EXIT.userError || code === RUN_EXIT.leaseLost) {
        resolve();
        return;
      }
      const how =
        sig !== null
          ? `the child was killed by ${sig}`
          : code === RUN_EXIT.internal
            ? 'memocall failed in the child (exit 1): nothing was stored'
            : `the child exited with code ${code}`;
      fail(new SubprocessError(memoUri, how, { exitCode: code, signal: sig, stderrTail: tail.toString() }));
    };

    child.once('error', (err) => {
      // Spawning failed ('exit' may never come), or a kill failed (harmless: it is gone).
      if (child.pid === undefined) {
        spawnError = err;
        finish(null, null);
      }
    });
    child.once('exit', (code, sig) => {
      // Output can still sit in the pipes; 'close' says it was read. A descendant that kept the
      // pipes open must not hold us forever, though.
      drainTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(code, sig);
      }, DRAIN_MS);
      drainTimer.unref();
    });
    child.once('close', (code, sig) => finish(code, sig));
  });
}

function sendSignal(child: ChildProcess, group: boolean, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    if (group) process.kill(-child.pid, sig);
    else child.kill(sig);
  } catch {
    // Already gone.
  }
}

/** `[fib Abc12345] `: the function's export name and the readable start of the arguments key. */
function prefixOf(ctx: ShimContext): string {
  const id = ctx.functionId;
  const name = id.includes('--') ? id.slice(id.lastIndexOf('--') + 2) : id.slice(id.lastIndexOf('/') + 1);
  const argsKey = ctx.memoUri.slice(ctx.memoUri.lastIndexOf('/') + 1);
  const readable = argsKey.split('.')[0] ?? argsKey;
  return `[${name} ${readable.slice(0, 16)}] `;
}

interface LiveChild {
  stop(): void;
  /** SIGKILL at once, the child's process group with it. */
  kill(): void;
  exited: Promise<void>;
}

const liveChildren = new Set<LiveChild>();
let terminationHooked = false;

/** When this process is told to terminate, its children are told too, and waited for briefly. */
function stopChildrenOnTermination(): void {
  if (terminationHooked) return;
  terminationHooked = true;
  onTermination(async () => {
    const children = [...liveChildren];
    for (const child of children) child.stop();
    await Promise.all(children.map((c) => c.exited));
  });
  // A child still running when the clean-up window closes (slow to exit under load) would be
  // orphaned if the process dies of the signal: kill it, and its group, on the way out.
  beforeDyingOfSignal(() => {
    for (const child of liveChildren) child.kill();
  });
}
