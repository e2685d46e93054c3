import { defineConfig } from 'vitest/config';
import CountReporter from './test/support/count-reporter.js';
import { lowerDecorators } from './test/support/lower-decorators.js';

export default defineConfig({
  plugins: [lowerDecorators()],
  test: {
    include: ['test/**/*.test.ts'],
    // Starts Ceph RGW (S3) and azurite (Azure) once, only when a selected test file needs them.
    globalSetup: ['./test/support/servers.global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Cross-process tests spawn their own children; two workers keep a 2-core machine responsive.
    maxWorkers: 2,
    reporters: ['default', new CountReporter()],
  },
});
