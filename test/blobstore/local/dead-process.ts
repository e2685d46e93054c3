import { spawn } from 'node:child_process';
import {
  formatWriterTag,
  ownWriterTag,
  processStartTicks,
  type WriterTag,
} from '../../../src/blobstore/local/writer-identity.js';

/** A process of this host that ran and has exited (and been reaped): its tag is provably dead. */
export async function deadProcessTag(): Promise<WriterTag> {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  const tag = await liveProcessTag(child.pid!);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  return tag;
}

/** The tag of the running process `pid` of this host. */
export async function liveProcessTag(pid: number): Promise<WriterTag> {
  const start = processStartTicks(pid);
  if (start === undefined) throw new Error(`no /proc/${pid}/stat: this test needs Linux /proc`);
  return { ...ownWriterTag(), pid, start };
}

/** A lock record naming `tag` as its holder, in the form lock-file.ts writes. */
export function lockRecordOf(tag: WriterTag, beat = 0): string {
  return `${formatWriterTag(tag)} 0123456789ab ${beat}\n`;
}
