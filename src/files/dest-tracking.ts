/**
 * DestFiles whose local path was handed out inside each running invocation (by run id), so the
 * finalizer can report those that were written but not returned: they would otherwise be lost
 * silently (never uploaded). Entries are removed when the run's result is finalized; a run that
 * threw leaves a small set behind until the process ends.
 */
// Generic so this module needs nothing from dest-file.ts (which calls it): no import cycle.
const touched = new Map<string, Set<unknown>>();

export function noteDestTouched<T>(runId: string, file: T): void {
  let set = touched.get(runId);
  if (!set) touched.set(runId, (set = new Set()));
  set.add(file);
}

/** The DestFiles touched during `runId`, forgetting them. */
export function takeTouched<T>(runId: string): T[] {
  const set = touched.get(runId);
  touched.delete(runId);
  return set ? ([...set] as T[]) : [];
}
