import type { InvocationRecord } from '../protocol/invocation-record.js';

/**
 * When the shim runs the invocation in this very process (samethread), the orchestrator hands
 * the invocation record over in memory and takes the outcome back the same way: no re-read of
 * what was just written, and the caller gets the original Error object, not a copy.
 */
export type LocalOutcome =
  | { kind: 'result'; value: Uint8Array }
  | { kind: 'error'; error: unknown }
  | { kind: 'lost-race' }
  | { kind: 'lease-lost' };

const invocations = new Map<string, InvocationRecord>();
const outcomes = new Map<string, LocalOutcome>();

const keyOf = (memoUri: string, writerId: string) => `${memoUri}\n${writerId}`;

export function offerInvocation(memoUri: string, record: InvocationRecord): void {
  invocations.set(keyOf(memoUri, record.writerId), record);
}

export function takeInvocation(memoUri: string, writerId: string | undefined): InvocationRecord | undefined {
  if (writerId === undefined) return undefined;
  const key = keyOf(memoUri, writerId);
  const record = invocations.get(key);
  invocations.delete(key);
  return record;
}

export function withdrawInvocation(memoUri: string, writerId: string): void {
  invocations.delete(keyOf(memoUri, writerId));
}

/** Outcomes nobody will take: their caller gave up (an aborted call) before the run ended. */
const abandoned = new Set<string>();

export function reportOutcome(memoUri: string, writerId: string | undefined, outcome: LocalOutcome): void {
  if (writerId === undefined) return;
  const key = keyOf(memoUri, writerId);
  if (abandoned.delete(key)) return;
  outcomes.set(key, outcome);
}

/** The caller stopped waiting for this run: drop its outcome, now or when it comes. */
export function abandonOutcome(memoUri: string, writerId: string): void {
  const key = keyOf(memoUri, writerId);
  if (!outcomes.delete(key)) abandoned.add(key);
}

export function takeOutcome(memoUri: string, writerId: string): LocalOutcome | undefined {
  const key = keyOf(memoUri, writerId);
  const outcome = outcomes.get(key);
  outcomes.delete(key);
  return outcome;
}

/** Forgets every hand-over (tests only, between calls: see memo/process-state.ts). */
export function forgetHandoffsForTests(): void {
  invocations.clear();
  outcomes.clear();
  abandoned.clear();
}
