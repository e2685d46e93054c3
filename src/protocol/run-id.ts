import { randomBytes } from 'node:crypto';

/**
 * One id per physical execution: sortable by time, unique enough to name output folders
 * (`2611220931-x7Kq2a`).
 */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(2, 12);
  return `${stamp}-${randomBytes(6).toString('base64url')}`;
}

/** A fresh writer id for one lease acquisition (fences every write made under it). */
export function newWriterId(): string {
  return randomBytes(12).toString('base64url');
}
