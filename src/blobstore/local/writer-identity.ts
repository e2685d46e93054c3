import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';

/**
 * Who wrote a temp file, in a form that can be checked later: host, boot, pid and the process's
 * start time. A temp file left by a killed writer is garbage once its writer is provably gone; the
 * pid alone cannot say so (pids are reused), pid + start time can, on the same host and boot.
 *
 * Tag: `<host>-<boot>-<pid>-<start>` with host (host name and pid namespace) and boot as 8 hex
 * digits of SHA-256 (names stay short and carry no host name), pid and start in base 36. `start` is the process's start time in
 * clock ticks since boot (`/proc/<pid>/stat` field 22) on Linux; elsewhere 0, and liveness is
 * then judged by the pid alone, which is conservative (a reused pid looks alive).
 */

export interface WriterTag {
  host: string;
  boot: string;
  pid: number;
  start: number;
}

export type Liveness = 'alive' | 'dead' | 'unknown';

let own: WriterTag | undefined;

/** This process's tag. */
export function ownWriterTag(): WriterTag {
  own ??= {
    // The pid namespace too: containers on one kernel share the boot id but not their pids.
    host: shortHash(`${os.hostname()}\0${readPidNamespace() ?? ''}`),
    boot: shortHash(readBootId() ?? ''),
    pid: process.pid,
    start: processStartTicks(process.pid) ?? 0,
  };
  return own;
}

export function formatWriterTag(tag: WriterTag): string {
  return `${tag.host}-${tag.boot}-${tag.pid.toString(36)}-${tag.start.toString(36)}`;
}

const TAG = /^([0-9a-f]{8})-([0-9a-f]{8})-([0-9a-z]{1,13})-([0-9a-z]{1,13})$/;

/** The tag formatted by `formatWriterTag`, or undefined for anything else (e.g. older temp names). */
export function parseWriterTag(text: string): WriterTag | undefined {
  const m = TAG.exec(text);
  if (!m) return undefined;
  return { host: m[1]!, boot: m[2]!, pid: Number.parseInt(m[3]!, 36), start: Number.parseInt(m[4]!, 36) };
}

/**
 * Whether the writer of `tag` still runs: 'dead' only when provable on this host (an earlier boot,
 * no such pid, or the pid now belongs to a process started at another time); 'unknown' for
 * other hosts, which only age can judge.
 */
export function writerLiveness(tag: WriterTag): Liveness {
  const me = ownWriterTag();
  if (tag.host !== me.host) return 'unknown';
  if (tag.boot !== me.boot) return me.boot === shortHash('') ? 'unknown' : 'dead';
  if (tag.pid === me.pid) return tag.start === me.start ? 'alive' : 'dead';
  if (!pidExists(tag.pid)) return 'dead';
  if (tag.start === 0) return 'alive'; // no start time recorded: a reused pid looks alive
  const start = processStartTicks(tag.pid);
  if (start === undefined) return pidExists(tag.pid) ? 'unknown' : 'dead';
  return start === tag.start ? 'alive' : 'dead';
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Field 22 of /proc/<pid>/stat; undefined where there is no /proc or no such process. */
export function processStartTicks(pid: number): number | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]);
  return Number.isSafeInteger(ticks) ? ticks : undefined;
}

function readPidNamespace(): string | undefined {
  try {
    return fs.readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

function readBootId(): string | undefined {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
  } catch {
    return undefined;
  }
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}
