// A network namespace joined to this one by a veth pair whose two addresses exist only on that
// link (10.231.N.0/30, no default route inside): a process started in it reaches Redis only
// over the link, and `cut()` partitions it (the link goes down; its TCP connections see silence,
// not resets). Needs root and `ip` (iproute2).
import { execFileSync } from 'node:child_process';

export interface PrivateLink {
  /** The namespace's name, for `ip netns exec`. */
  ns: string;
  /** This side's address (bind Redis to it). */
  hostAddress: string;
  cut(): void;
  heal(): void;
  remove(): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Whether namespaces can be made here (root with iproute2): the partition tests skip otherwise. */
export function privateLinksAvailable(): boolean {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function createPrivateLink(): PrivateLink {
  const id = process.pid % 10_000;
  const ns = `memocall-q${id}`;
  const hostSide = `mqh${id}`;
  const nsSide = `mqn${id}`;
  const subnet = `10.231.${process.pid % 250}`;
  const hostAddress = `${subnet}.1`;
  const remove = () => {
    for (const args of [
      ['link', 'del', hostSide],
      ['netns', 'del', ns],
    ]) {
      try {
        ip(...args);
      } catch {
        // Already gone (the namespace's end of the pair goes with it).
      }
    }
  };
  remove();
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', hostSide, 'type', 'veth', 'peer', 'name', nsSide);
    ip('link', 'set', nsSide, 'netns', ns);
    ip('addr', 'add', `${hostAddress}/30`, 'dev', hostSide);
    ip('link', 'set', hostSide, 'up');
    ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
    ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${subnet}.2/30`, 'dev', nsSide);
    ip('netns', 'exec', ns, 'ip', 'link', 'set', nsSide, 'up');
  } catch (err) {
    remove();
    throw err;
  }
  return {
    ns,
    hostAddress,
    cut: () => ip('netns', 'exec', ns, 'ip', 'link', 'set', nsSide, 'down'),
    heal: () => ip('netns', 'exec', ns, 'ip', 'link', 'set', nsSide, 'up'),
    remove,
  };
}
