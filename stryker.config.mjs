// Mutation testing of the modules whose bugs are the costliest: `npm run mutate` (see docs/testing.md).
// Not part of `npm test`: a full run takes most of an hour on 2 cores.
// MEMOCALL_MUTATE=src/cache (a file or directory among these) mutates only that part, with its own
// report under reports/mutation/<name>.*: a full run takes long enough to want it in pieces.
const ALL = ['src/core', 'src/execute/lease.ts', 'src/cache'];
const only = process.env.MEMOCALL_MUTATE;
if (only !== undefined && !ALL.includes(only)) throw new Error(`MEMOCALL_MUTATE must be one of ${ALL.join(', ')}`);
const parts = only === undefined ? ALL : [only];
const reportName = only === undefined ? 'mutation' : only.replace(/^src\//, '').replace(/\.ts$/, '').replaceAll('/', '-');

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'vitest.stryker.config.ts', related: false },
  mutate: parts.map((part) => (part.endsWith('.ts') ? part : `${part}/**/*.ts`)),
  // No checker: @stryker-mutator/typescript-checker needs TypeScript's JS API, which TypeScript 7
  // (this project's compiler) does not have. Mutants that would not compile simply fail at run time.
  checkers: [],
  // Stryker's sandbox step rewrites `extends`/`references` paths of this tsconfig through
  // TypeScript's JS API, which TypeScript 7 lacks. Ours have neither, so point it at no file:
  // the step is skipped (it only runs when the named file exists).
  tsconfigFile: 'no-tsconfig-for-stryker.json',
  coverageAnalysis: 'perTest',
  concurrency: 2,
  // A mutant that loops forever costs this much above 1.5 × its tests' normal time.
  timeoutMS: 5_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${reportName}.html` },
  jsonReporter: { fileName: `reports/mutation/${reportName}.json` },
  ignorePatterns: ['dist', 'reports', 'coverage', '.test-tmp', 'bench', '.stryker-tmp*'],
  tempDirName: '.stryker-tmp',
  thresholds: { high: 90, low: 80, break: null },
};
