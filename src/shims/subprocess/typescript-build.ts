import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as Esbuild from 'esbuild';

/**
 * A TypeScript function module compiled once for the subprocess shim's children, so that they
 * run on plain Node instead of paying tsx's loader at every start (about 120 ms a child).
 *
 * The module and every TypeScript module of the code root it imports are compiled one file each
 * with esbuild (imports left as imports, TypeScript ones pointed at their compiled twins, all
 * others at what they resolved to here), into a directory named by the content hashes of those
 * sources: `<code root>/node_modules/.cache/memocall/typescript/<key>/<same relative paths>.js`.
 * Inside node_modules, packages resolve from there as from the sources. Each file keeps its
 * identity: a source map names its original, which is where memocall reads function ids from
 * (identity/source-location.ts), and `import.meta.url`, `filename` and `dirname` are the
 * original's. A graph already compiled is found again by its sources' hashes (a manifest per
 * module), in this process by memory.
 *
 * Anything this cannot reproduce exactly returns undefined, and the child falls back to tsx:
 * esbuild missing, a CommonJS-scoped file (no `"type": "module"`), a TypeScript import outside
 * the code root, an import esbuild cannot resolve, an unwritable code root.
 */
const FORMAT = 1; // bump when the output layout changes: old entries are then not used
const TYPESCRIPT = /\.(?:ts|mts|tsx)$/;

export interface CompiledModule {
  /** The compiled twin of the function's module. */
  file: string;
  /** The directory of the compiled graph. */
  root: string;
}

const compiled = new Map<string, Promise<CompiledModule | undefined>>();

/** The compiled twin of `moduleFile` (a TypeScript file under `codeRoot`), or undefined: use tsx. */
export function compiledTypeScriptModule(moduleFile: string, codeRoot: string): Promise<CompiledModule | undefined> {
  let found = compiled.get(moduleFile);
  if (!found) {
    found = compile(moduleFile, codeRoot).catch(() => undefined);
    compiled.set(moduleFile, found);
  }
  return found;
}

const esbuildOf = new Map<string, Promise<typeof Esbuild | undefined>>();

/**
 * esbuild, from memocall's own dependencies, else the code root's, else tsx's (tsx depends on it:
 * whoever runs TypeScript through tsx has it). Undefined when none has it.
 */
function loadEsbuild(codeRoot: string): Promise<typeof Esbuild | undefined> {
  let loaded = esbuildOf.get(codeRoot);
  if (!loaded) {
    loaded = (async () => {
      const bases = [fileURLToPath(import.meta.url), path.join(codeRoot, 'package.json')];
      for (const base of [...bases]) {
        try {
          bases.push(createRequire(base).resolve('tsx'));
        } catch {
          // no tsx there
        }
      }
      for (const base of bases) {
        try {
          const loadedModule = (await import(pathToFileURL(createRequire(base).resolve('esbuild')).href)) as
            | (typeof Esbuild & { default?: typeof Esbuild })
            | { default: typeof Esbuild };
          const api = 'build' in loadedModule ? loadedModule : loadedModule.default;
          if (typeof api?.build === 'function') return api;
        } catch {
          // not installed there
        }
      }
      return undefined;
    })();
    esbuildOf.set(codeRoot, loaded);
  }
  return loaded;
}

interface Manifest {
  key: string;
  files: Array<{ path: string; sha256: string }>;
}

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

async function compile(moduleFile: string, codeRoot: string): Promise<CompiledModule | undefined> {
  if (!isInside(codeRoot, moduleFile) || !isEsmScoped(moduleFile)) return undefined;
  const cacheDir = path.join(codeRoot, 'node_modules', '.cache', 'memocall', 'typescript');
  const relative = path.relative(codeRoot, moduleFile);
  const twin = (root: string, file: string) =>
    path.join(root, path.relative(codeRoot, file).replace(TYPESCRIPT, '.js'));
  const manifestFile = path.join(cacheDir, 'modules', `${sha256(`${FORMAT}\n${relative}`)}.json`);

  // Compiled before, from these very sources?
  const known = readManifest(manifestFile);
  if (known && fs.existsSync(path.join(cacheDir, known.key, '.complete'))) {
    const unchanged = known.files.every(({ path: file, sha256: digest }) => {
      try {
        return sha256(fs.readFileSync(path.join(codeRoot, file))) === digest;
      } catch {
        return false;
      }
    });
    if (unchanged) {
      const root = path.join(cacheDir, known.key);
      return { root, file: twin(root, moduleFile) };
    }
  }

  const esbuild = await loadEsbuild(codeRoot);
  if (!esbuild) return undefined;
  const outputs = new Map<string, { js: string; map: string; sha256: string }>();
  const pending = [moduleFile];
  while (pending.length) {
    const file = pending.pop()!;
    if (outputs.has(file)) continue;
    const output = await compileOne(esbuild, file, codeRoot, (dependency) => {
      if (!outputs.has(dependency)) pending.push(dependency);
    });
    if (!output) return undefined;
    outputs.set(file, output);
  }

  const files = [...outputs]
    .map(([file, { sha256: digest }]) => ({ path: path.relative(codeRoot, file), sha256: digest }))
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  const key = sha256(
    JSON.stringify({ format: FORMAT, esbuild: esbuild.version, node: process.versions.node, files }),
  ).slice(0, 32);
  const root = path.join(cacheDir, key);
  if (!fs.existsSync(path.join(root, '.complete'))) {
    // Written aside, then renamed into place: a reader never sees half a graph.
    const temp = `${root}.tmp-${process.pid}-${Date.now()}`;
    fs.mkdirSync(temp, { recursive: true });
    fs.writeFileSync(path.join(temp, 'package.json'), '{ "type": "module", "private": true }\n');
    for (const [file, { js, map }] of outputs) {
      const out = twin(temp, file);
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, js);
      fs.writeFileSync(`${out}.map`, map);
    }
    fs.writeFileSync(path.join(temp, '.complete'), '');
    try {
      fs.renameSync(temp, root);
    } catch {
      fs.rmSync(temp, { recursive: true, force: true }); // another process put the same graph there first
    }
  }
  fs.mkdirSync(path.dirname(manifestFile), { recursive: true });
  const manifestTemp = `${manifestFile}.tmp-${process.pid}`;
  fs.writeFileSync(manifestTemp, JSON.stringify({ key, files } satisfies Manifest));
  fs.renameSync(manifestTemp, manifestFile);
  return { root, file: twin(root, moduleFile) };
}

/** One file, its imports left as imports; TypeScript dependencies under the code root are reported. */
async function compileOne(
  esbuild: typeof Esbuild,
  file: string,
  codeRoot: string,
  dependsOn: (file: string) => void,
): Promise<{ js: string; map: string; sha256: string } | undefined> {
  if (!isEsmScoped(file)) return undefined;
  const source = fs.readFileSync(file);
  const outfile = path.join(codeRoot, path.relative(codeRoot, file).replace(TYPESCRIPT, '.js'));
  const unreproducible: string[] = [];
  const OWN = Symbol.for('memocall.typescript-build');
  const result = await esbuild.build({
    stdin: {
      contents: source.toString('utf8'),
      sourcefile: file,
      resolveDir: path.dirname(file),
      loader: file.endsWith('.tsx') ? 'tsx' : 'ts',
    },
    absWorkingDir: codeRoot,
    bundle: true, // for onResolve on every import; each one is external, so nothing is bundled
    write: false,
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node.split('.')[0]}`,
    outfile,
    sourcemap: 'external',
    sourcesContent: false,
    logLevel: 'silent',
    define: {
      'import.meta.url': JSON.stringify(pathToFileURL(file).href),
      'import.meta.filename': JSON.stringify(file),
      'import.meta.dirname': JSON.stringify(path.dirname(file)),
    },
    plugins: [
      {
        name: 'memocall-one-file',
        setup(build) {
          build.onResolve({ filter: /.*/ }, async (args) => {
            if (args.pluginData === OWN) return undefined;
            if (args.path.startsWith('node:')) return { path: args.path, external: true };
            const resolved = await build.resolve(args.path, {
              kind: args.kind,
              resolveDir: args.resolveDir,
              importer: args.importer,
              pluginData: OWN,
            });
            if (resolved.errors.length || !resolved.path) {
              unreproducible.push(args.path);
              return { path: args.path, external: true };
            }
            if (resolved.external || !path.isAbsolute(resolved.path)) return { path: args.path, external: true };
            const target = resolved.path;
            const inPackage = target.split(path.sep).includes('node_modules');
            if (TYPESCRIPT.test(target) && !inPackage) {
              if (!isInside(codeRoot, target)) {
                unreproducible.push(args.path);
                return { path: args.path, external: true };
              }
              dependsOn(target);
              let specifier = path
                .relative(path.dirname(file), target)
                .replace(TYPESCRIPT, '.js')
                .split(path.sep)
                .join('/');
              if (!specifier.startsWith('.')) specifier = `./${specifier}`;
              return { path: specifier, external: true };
            }
            // A package by name resolves from the compiled twin as from here (node_modules above
            // both); anything else is pointed at exactly the file it resolved to here.
            const bare = !args.path.startsWith('.') && !path.isAbsolute(args.path) && !args.path.startsWith('file:');
            if (bare && inPackage) return { path: args.path, external: true };
            return { path: pathToFileURL(target).href, external: true };
          });
        },
      },
    ],
  });
  if (unreproducible.length || result.errors.length) return undefined;
  let js = '';
  let map = '';
  for (const out of result.outputFiles ?? []) {
    if (out.path.endsWith('.map')) map = out.text;
    else js = out.text;
  }
  // The map names the original by its path from the twin's directory (set where the twin lands).
  const parsed = JSON.parse(map) as { sources: string[] };
  const twinDirDepth = path.relative(codeRoot, path.dirname(outfile));
  parsed.sources = [sourceFromTwin(file, codeRoot, twinDirDepth)];
  return { js, map: JSON.stringify(parsed), sha256: sha256(source) };
}

/**
 * The original's path as seen from its twin's directory: the twin sits at the same relative
 * path under the cache directory, `node_modules/.cache/memocall/typescript/<key>/`, five levels
 * below the code root.
 */
function sourceFromTwin(file: string, codeRoot: string, twinDir: string): string {
  const fromTwinDir = path.join(codeRoot, 'node_modules', '.cache', 'memocall', 'typescript', 'KEY', twinDir);
  return path.relative(fromTwinDir, file).split(path.sep).join('/');
}

function isInside(root: string, file: string): boolean {
  const rel = path.relative(root, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

const scopeOfDir = new Map<string, boolean>();

/** `.mts`, or a `.ts`/`.tsx` whose nearest package.json says `"type": "module"`: compiled as ESM. */
function isEsmScoped(file: string): boolean {
  if (file.endsWith('.mts')) return true;
  if (!/\.tsx?$/.test(file)) return false;
  const dir = path.dirname(file);
  let esm = scopeOfDir.get(dir);
  if (esm === undefined) {
    esm = false;
    for (let current = dir; ; current = path.dirname(current)) {
      const manifest = path.join(current, 'package.json');
      if (fs.existsSync(manifest)) {
        try {
          esm = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { type?: string }).type === 'module';
        } catch {
          esm = false;
        }
        break;
      }
      if (path.dirname(current) === current) break;
    }
    scopeOfDir.set(dir, esm);
  }
  return esm;
}

function readManifest(file: string): Manifest | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}
