import { AsyncLocalStorage } from 'node:async_hooks';
import { validateId } from '../identity/function-identity.js';

const mask = new AsyncLocalStorage<string>();

/**
 * Runs `block` with every memoized call inside it stored under `pipelineId` instead of its
 * runner's. The outermost mask wins, so a library's inner mask cannot split a caller's pipeline.
 */
export function pipelineIdMask<T>(pipelineId: string, block: () => T): T {
  validateId(pipelineId, 'pipeline id');
  if (mask.getStore() !== undefined) return block();
  return mask.run(pipelineId, block);
}

/** The pipeline id imposed by an enclosing `pipelineIdMask`, if any. */
export function maskedPipelineId(): string | undefined {
  return mask.getStore();
}
