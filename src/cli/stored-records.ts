import type { BlobStore } from '../blobstore/blob-store.js';
import { BlobNotFoundError } from '../blobstore/errors.js';
import type { LeaseRecord } from '../execute/lease.js';
import type { RunMetadata } from '../protocol/run-metadata.js';

/** A record read for display: its value, or why it could not be used. Absent records are `null`. */
export type Read<T> = { value: T } | { problem: string };

export async function getOrNull(store: BlobStore, uri: string): Promise<Uint8Array | null> {
  try {
    return await store.get(uri);
  } catch (err) {
    if (err instanceof BlobNotFoundError) return null;
    throw err;
  }
}

/** Reads and decodes one record; a record that does not decode is a problem to report, not a crash. */
export async function readRecord<T>(
  store: BlobStore,
  uri: string,
  decode: (bytes: Uint8Array) => T,
): Promise<Read<T> | null> {
  const bytes = await getOrNull(store, uri);
  if (bytes === null) return null;
  try {
    return { value: decode(bytes) };
  } catch (err) {
    return { problem: `${uri}: cannot be decoded (${err instanceof Error ? err.message : String(err)})` };
  }
}

const text = new TextDecoder('utf-8', { fatal: true });

/** `meta/<runId>.json`, checked field by field: stored data from anyone who can write the store. */
export function decodeRunMetadata(bytes: Uint8Array): RunMetadata {
  const meta = JSON.parse(text.decode(bytes)) as Record<string, unknown>;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw new Error('not a JSON object');
  for (const key of ['runId', 'functionId', 'pipelineId', 'outcome'] as const)
    if (typeof meta[key] !== 'string') throw new Error(`${key} is not a string`);
  if (typeof meta.durationMs !== 'number' || !Number.isFinite(meta.durationMs) || meta.durationMs < 0)
    throw new Error('durationMs is not a duration');
  return meta as unknown as RunMetadata;
}

/** The lease JSON, checked: the times must be numbers a Date can hold. */
export function decodeLeaseRecord(bytes: Uint8Array): LeaseRecord {
  const lease = JSON.parse(text.decode(bytes)) as Record<string, unknown>;
  if (typeof lease !== 'object' || lease === null || Array.isArray(lease)) throw new Error('not a JSON object');
  for (const key of ['heartbeatAt', 'ttlMs', 'acquiredAt', 'generation'] as const)
    if (!isTime(lease[key])) throw new Error(`${key} is not a finite number`);
  if (lease.releasedAt !== undefined && !isTime(lease.releasedAt)) throw new Error('releasedAt is not a finite number');
  if (typeof lease.writerId !== 'string') throw new Error('writerId is not a string');
  return lease as unknown as LeaseRecord;
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && Math.abs(value) <= 8.64e15;
}

/** `held` (until `expiresAt`), `expired` or `released`, with the times as ISO text. */
export function describeLease(r: LeaseRecord, now = Date.now()) {
  const expiresAt = r.heartbeatAt + r.ttlMs;
  const state = r.releasedAt !== undefined ? 'released' : now > expiresAt ? 'expired' : 'held';
  return {
    state,
    writerId: r.writerId,
    generation: r.generation,
    hostname: r.hostname,
    pid: r.pid,
    acquiredAt: iso(r.acquiredAt),
    heartbeatAt: iso(r.heartbeatAt),
    expiresAt: iso(expiresAt),
    ...(r.releasedAt !== undefined ? { releasedAt: iso(r.releasedAt) } : {}),
    ttlMs: r.ttlMs,
  };
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}
