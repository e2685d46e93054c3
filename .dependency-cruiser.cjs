// Layers of src/, bottom first: each may import only the layers before it (docs/architecture.md).
const layers = ['core', 'blobstore', 'cache', 'protocol', 'identity', 'execute', 'files', 'data', 'shims', 'memo', 'cli'];
const above = (i) => layers.slice(i + 1).join('|');
module.exports = {
  forbidden: [
    ...layers.slice(0, -1).map((layer, i) => ({
      name: `${layer}-imports-upward`,
      comment: `src/${layer}/ may import only lower layers (${layers.slice(0, i).join(', ') || 'none'}) and the platform`,
      severity: 'error',
      // A program's entry point (the subprocess child) is wired like any program, through setup.ts.
      from: { path: `^src/${layer}/`, pathNot: '^src/shims/subprocess/child-main\\.ts$' },
      to: { path: `^src/(${above(i)}|index\\.ts|setup\\.ts)` },
    })),
    {
      name: 'child-main-imports-upward',
      comment: 'the subprocess child program may import setup.ts and index.ts, and otherwise only what shims may',
      severity: 'error',
      from: { path: '^src/shims/subprocess/child-main\\.ts$' },
      to: { path: '^src/(memo|cli)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: { path: '^src/' },
      // A cycle through type-only imports costs nothing at run time.
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'src-imports-tests',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|examples)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    parser: 'swc',
    exclude: { path: '^dist/' },
  },
};
