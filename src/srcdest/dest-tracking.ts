import type { DestFile } from './dest-file.js';

/**
 * DestFiles whose local path was handed out inside each running invocation (by run id), so the
 * finalizer can report those that were written but not returned: they would otherwise be lost
 * silently (never uploaded). Entries are removed when the run's result is finalized; a run that
 * threw leaves a small set behind until the process ends.
 */
const touched = new Map<string, Set<DestFile>>();

export function noteDestTouched(runId: string, file: DestFile): void {
  let set = touched.get(runId);
  if (!set) touched.set(runId, (set = new Set()));
  set.add(file);
}

/** The DestFiles touched during `runId`, forgetting them. */
export function takeTouched(runId: string): DestFile[] {
  const set = touched.get(runId);
  touched.delete(runId);
  return set ? [...set] : [];
}
