/**
 * Clean-up before the process dies of SIGINT, SIGTERM or SIGHUP: held leases are released (other
 * callers can take over at once instead of waiting for expiry) and child processes are stopped
 * (they would otherwise run on as orphans). If nobody else listens for the signal, it is raised
 * again afterwards, so the process still ends the way it would have. A second signal during the
 * clean-up ends the process at once.
 */
export type TerminationCleanup = (signal: NodeJS.Signals) => Promise<void> | void;

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** The clean-ups get this long in all; a stuck store must not keep a dying process alive. */
const DEADLINE_MS = 3_000;

const cleanups = new Set<TerminationCleanup>();
const listeners = new Map<NodeJS.Signals, () => void>();
let terminating = false;

/** Registers a clean-up; the returned function unregisters it. */
export function onTermination(cleanup: TerminationCleanup): () => void {
  cleanups.add(cleanup);
  install();
  return () => {
    cleanups.delete(cleanup);
  };
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
  const running = [...cleanups].map(async (cleanup) => cleanup(signal));
  const deadline = new Promise((resolve) => setTimeout(resolve, DEADLINE_MS).unref());
  await Promise.race([Promise.allSettled(running), deadline]);
  uninstall();
  terminating = false;
  reraise(signal);
}

function reraise(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}
