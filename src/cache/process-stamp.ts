import fs from 'node:fs';
import { hostname } from 'node:os';

/**
 * Who a process is, precisely enough to tell later that it is dead: a pid alone is not (pids are
 * reused, and another machine or container has the same pids), so the stamp also names the host,
 * the boot (Linux boot_id), the pid namespace and the process's start time (clock ticks since
 * boot, /proc/<pid>/stat field 22). Fill locks and partial fills of the download cache carry one.
 *
 * A holder is judged only when the stamp was written on the same host, boot and pid namespace as
 * this process (fields a stamp lacks, as from an older memocall or a system without /proc, are not
 * compared). Anything else (another machine sharing the directory, an unreadable /proc) is not
 * provably dead, and is left to the caller's age rule.
 */

export interface ProcessStamp {
  pid: number;
  host: string;
  bootId?: string;
  pidNamespace?: string;
  /** Start time of the process in clock ticks since boot, as a decimal string. */
  startTicks?: string;
}

function readTrimmed(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function readLink(file: string): string | undefined {
  try {
    return fs.readlinkSync(file);
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat; the command name (field 2) may contain spaces and parentheses. */
export function processStartTicks(pid: number): string | undefined {
  const stat = readTrimmed(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = afterName[22 - 3];
  return ticks !== undefined && /^\d+$/.test(ticks) ? ticks : undefined;
}

let own: ProcessStamp | undefined;

/** This process's stamp (computed once; the pid is re-read so a forked copy is not confused). */
export function currentProcessStamp(): ProcessStamp {
  if (own === undefined || own.pid !== process.pid) {
    const stamp: ProcessStamp = { pid: process.pid, host: hostname() };
    const bootId = readTrimmed('/proc/sys/kernel/random/boot_id');
    const pidNamespace = readLink('/proc/self/ns/pid');
    const startTicks = processStartTicks(process.pid);
    if (bootId !== undefined) stamp.bootId = bootId;
    if (pidNamespace !== undefined) stamp.pidNamespace = pidNamespace;
    if (startTicks !== undefined) stamp.startTicks = startTicks;
    own = stamp;
  }
  return own;
}

/** A stamp read back from a file, or undefined if `value` is not one. */
export function parseProcessStamp(value: unknown): ProcessStamp | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.pid !== 'number' || !Number.isSafeInteger(v.pid) || v.pid <= 0) return undefined;
  if (typeof v.host !== 'string') return undefined;
  for (const key of ['bootId', 'pidNamespace', 'startTicks'] as const)
    if (v[key] !== undefined && typeof v[key] !== 'string') return undefined;
  return v as unknown as ProcessStamp;
}

/** True only when the stamped process certainly no longer runs (see the module comment). */
export function isProvablyDead(stamp: ProcessStamp): boolean {
  const me = currentProcessStamp();
  if (stamp.host !== me.host) return false;
  if (stamp.bootId !== undefined && stamp.bootId !== me.bootId) return false;
  if (stamp.pidNamespace !== undefined && stamp.pidNamespace !== me.pidNamespace) return false;
  try {
    process.kill(stamp.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return true;
    // EPERM: a process of another user has that pid; compare start times below
  }
  if (stamp.startTicks === undefined) return false;
  const now = processStartTicks(stamp.pid);
  // The pid runs, but started at another time: reused by another process.
  return now !== undefined && now !== stamp.startTicks;
}
