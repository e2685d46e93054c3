import { afterEach, beforeEach } from 'vitest';
import { forgetCorruptRecordWarningsForTests } from '../../src/protocol/corrupt-record.js';

/**
 * Collects MEMOCALL_CORRUPT_RECORD warnings per test. `warnedAbout(uri)` waits for one naming
 * `uri`: process warnings are delivered on a later tick than the call that emits them.
 */
export function useCorruptRecordWarnings(): { warnedAbout(uri: string): Promise<Error>; all(): Error[] } {
  let warnings: Error[] = [];
  const onWarning = (w: Error) => {
    if ((w as { code?: string }).code === 'MEMOCALL_CORRUPT_RECORD') warnings.push(w);
  };
  beforeEach(() => {
    warnings = [];
    forgetCorruptRecordWarningsForTests();
    process.on('warning', onWarning);
  });
  afterEach(() => {
    process.off('warning', onWarning);
  });
  return {
    all: () => warnings,
    async warnedAbout(uri: string): Promise<Error> {
      for (let i = 0; i < 200; i++) {
        const found = warnings.find((w) => w.message.includes(uri));
        if (found) return found;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(
        `no MEMOCALL_CORRUPT_RECORD warning named ${uri}; got: ${warnings.map((w) => w.message).join(' | ')}`,
      );
    },
  };
}
