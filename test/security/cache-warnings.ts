import { afterEach, beforeEach } from 'vitest';

/** Collects process warnings with the given codes during each test (delivered a tick late: `settled()`). */
export function useWarnings(...codes: string[]): { all(): Array<Error & { code?: string }>; settled(): Promise<void> } {
  let warnings: Array<Error & { code?: string }> = [];
  const onWarning = (w: Error & { code?: string }) => {
    if (w.code !== undefined && codes.includes(w.code)) warnings.push(w);
  };
  beforeEach(() => {
    warnings = [];
    process.on('warning', onWarning);
  });
  afterEach(() => {
    process.off('warning', onWarning);
  });
  return {
    all: () => warnings,
    settled: () => new Promise((resolve) => setTimeout(resolve, 20)),
  };
}
