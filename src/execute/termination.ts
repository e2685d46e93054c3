import { CallAbortedError } from './errors.js';

/**
 * Clean-up before the process dies of SIGINT, SIGTERM or SIGHUP: held leases are released (other
 * callers can take over at once instead of waiting for expiry) and child processes are stopped
 * (they would otherwise run on as orphans). If nobody else listens for the signal, it is raised
 * again afterwards, so the process still ends the way it would have. A second signal during the
 * clean-up ends the process at once.
 *
 * From the signal on, nothing new starts (`isTerminating`): no child, no queued call, no lease.
 * A call cut short by it never settles when the process is about to die of the signal (settling
 * would reject the user's `await` and end the program with exit 1 and a stack instead of by the
 * signal); when someone else handles the signal (the process lives on) it rejects with a
 * `CallAbortedError` instead.
 */
export type TerminationCleanup = (signal: NodeJS.Signals) => Promise<void> | void;

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** The clean-ups get this long in all; a stuck store must not keep a dying process alive. */
const DEADLINE_MS = 3_000;

const cleanups = new Set<TerminationCleanup>();
const lastActions = new Set<() => void>();
const listeners = new Map<NodeJS.Signals, () => void>();
let terminating = false;
/** The signal being handled, while the clean-ups run. */
let receivedSignal: NodeJS.Signals | undefined;
/** Whether the process dies of `receivedSignal` after the clean-ups (nobody else listens). */
let willDie = false;

/** Registers a clean-up; the returned function unregisters it. */
export function onTermination(cleanup: TerminationCleanup): () => void {
  cleanups.add(cleanup);
  install();
  return () => {
    cleanups.delete(cleanup);
  };
}

/**
 * Registers a synchronous action run right before the process dies of a signal, after the
 * clean-ups (or their deadline): what must not outlive the process (a child that ignored
 * SIGTERM) is ended here. The returned function unregisters it.
 */
export function beforeDyingOfSignal(action: () => void): () => void {
  lastActions.add(action);
  install();
  return () => {
    lastActions.delete(action);
  };
}

/** True from a terminating signal until the process dies (or, if someone else handles it, the clean-ups end). */
export function isTerminating(): boolean {
  return terminating;
}

/**
 * What a call that must not start (or go on) after a terminating signal becomes: a promise that
 * never settles when the process is about to die of the signal, else a `CallAbortedError`.
 */
export function stoppedByTermination(memoUri?: string): Promise<never> {
  if (willDie) return new Promise<never>(() => undefined);
  return Promise.reject(
    new CallAbortedError(new Error(`the process received ${receivedSignal ?? 'a signal'}`), memoUri),
  );
}

function install(): void {
  if (listeners.size) return;
  for (const signal of SIGNALS) {
    const listener = () => void terminate(signal);
    listeners.set(signal, listener);
    process.on(signal, listener);
  }
}

function uninstall(): void {
  for (const [signal, listener] of listeners) process.removeListener(signal, listener);
  listeners.clear();
}

async function terminate(signal: NodeJS.Signals): Promise<void> {
  if (terminating) {
    // Asked twice: stop cleaning up and die now.
    uninstall();
    reraise(signal);
    return;
  }
  terminating = true;
  receivedSignal = signal;
  // Ours is one listener; any other means someone else decides what the signal does.
  willDie = process.listenerCount(signal) <= 1;
  const running = [...cleanups].map(async (cleanup) => cleanup(signal));
  const deadline = new Promise((resolve) => setTimeout(resolve, DEADLINE_MS).unref());
  await Promise.race([Promise.allSettled(running), deadline]);
  uninstall();
  if (reraise(signal)) return; // dying: stay `terminating` to the end
  terminating = false;
  receivedSignal = undefined;
  willDie = false;
}

/** Raises the signal again when nobody else handles it; true when it did (the process dies). */
function reraise(signal: NodeJS.Signals): boolean {
  if (process.listenerCount(signal) !== 0) return false;
  for (const action of lastActions) {
    try {
      action();
    } catch {
      // Dying anyway: one failed action must not keep the others from running.
    }
  }
  process.kill(process.pid, signal);
  return true;
}
