import { defineConfig } from 'vitest/config';
import { lowerDecorators } from './test/support/lower-decorators.js';

/**
 * The unit suites `npm run mutate` runs against each mutant of src/core, src/execute/lease.ts and
 * src/cache (see stryker.config.mjs and docs/testing.md). Stryker's vitest runner forces one
 * worker thread, so only suites that never `process.chdir` belong here; none needs the cloud
 * servers (no globalSetup).
 */
export default defineConfig({
  plugins: [lowerDecorators()],
  test: {
    include: [
      'test/core/**/*.test.ts',
      'test/cache/**/*.test.ts',
      // Not fencing.test.ts: its runner and child-process tests cover every lease mutant and cost
      // seconds each; lease.test.ts pins the same behaviour at the unit level.
      'test/execute/lease.test.ts',
    ],
    // It runs an app against the built dist/ (unmutated code: nothing for a mutant to change),
    // and the sandbox has no dist/.
    exclude: ['test/core/optional-dependency.test.ts'],
    // Tells suites to leave out tests whose every check runs in child processes (unmutated code).
    env: { MEMOCALL_MUTATION_RUN: '1' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
