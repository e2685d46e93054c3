import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { isTerminating, onTermination } from '../../execute/termination.js';

/**
 * Child processes started ahead of need (`child-main.js standby`): Node and memocall are already
 * loaded when a call arrives, so the call skips most of a child's start-up. It is still one fresh
 * process per invocation: a spare runs exactly one request, then exits, and a new spare is
 * started when one is taken.
 *
 * An idle spare keeps neither this process nor its event loop alive; it ends when unused for
 * `idleMs`, when this process is told to terminate, or when this process exits (its stdin closes).
 */
export class StandbyPool {
  private readonly spares: Array<{ child: ChildProcess; key: string; idle: NodeJS.Timeout }> = [];
  private hooked = false;

  constructor(
    private readonly size: number,
    private readonly idleMs: number,
  ) {}

  /**
   * The oldest live spare started with the same `key` (Node flags), if any: it is then this
   * caller's, referenced again like any child, and the caller must send it its request. Spares
   * with another key are of no more use (the flags changed) and are stopped.
   */
  take(key: string): ChildProcess | undefined {
    if (isTerminating()) return undefined;
    while (this.spares.length) {
      const spare = this.spares.shift()!;
      clearTimeout(spare.idle);
      const { child } = spare;
      if (spare.key !== key || child.exitCode !== null || child.signalCode !== null) {
        stopQuietly(child);
        continue;
      }
      setReferenced(child, true);
      return child;
    }
    return undefined;
  }

  /** Starts spares with `spawnSpare` until `size` are waiting. */
  fill(key: string, spawnSpare: () => ChildProcess): void {
    while (!isTerminating() && this.spares.length < this.size) {
      let child: ChildProcess;
      try {
        child = spawnSpare();
      } catch {
        return; // a spare is an optimization: the next call starts its child itself
      }
      child.on('error', () => undefined); // a failed spare is simply not used
      setReferenced(child, false);
      const spare = {
        child,
        key,
        idle: setTimeout(() => {
          const at = this.spares.indexOf(spare);
          if (at >= 0) this.spares.splice(at, 1);
          stopQuietly(child);
        }, this.idleMs),
      };
      spare.idle.unref();
      this.spares.push(spare);
    }
    if (!this.hooked) {
      this.hooked = true;
      onTermination(() => this.discard());
    }
  }

  /** Stops every waiting spare. */
  discard(): void {
    for (const spare of this.spares.splice(0)) {
      clearTimeout(spare.idle);
      stopQuietly(spare.child);
    }
  }
}

/** Hands a spare its one request: the run argv and the environment it must run in. */
export function sendStandbyRequest(child: ChildProcess, argv: string[], env: NodeJS.ProcessEnv): void {
  const stdin = child.stdin;
  if (!stdin) return;
  stdin.on('error', () => undefined); // it died meanwhile: its exit is reported as for any child
  stdin.end(`${JSON.stringify({ argv, env })}\n`);
}

function setReferenced(child: ChildProcess, referenced: boolean): void {
  for (const stream of [child.stdin, child.stdout, child.stderr] as Array<Readable | Writable | null>) {
    const socket = stream as unknown as { ref?: () => void; unref?: () => void } | null;
    if (referenced) socket?.ref?.();
    else socket?.unref?.();
  }
  if (referenced) child.ref();
  else child.unref();
}

function stopQuietly(child: ChildProcess): void {
  // Closing stdin tells an idle spare to exit; the kill covers one that is stuck starting.
  child.stdin?.destroy();
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
