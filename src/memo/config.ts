import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, type Stats } from 'node:fs';
import path from 'node:path';
import { ConfigurationError } from '../core/configuration-error.js';
import { normalizeBlobRoot } from '../protocol/blob-root.js';
import { DEFAULTS } from '../protocol/defaults.js';
import { settingsFromEnv } from '../protocol/settings-env.js';

/** What `pure` reads from `memocall.config.json`, `MEMOCALL_*` variables and its options. */
export interface MemocallConfig {
  /** Default `file://~/.memocall`. Env `MEMOCALL_BLOB_ROOT`. */
  blobRoot: string;
  /** Default `default`. Env `MEMOCALL_PIPELINE_ID`. */
  pipelineId: string;
  /** `samethread` (default), `off`, or another registered shim name. Env `MEMOCALL_SHIM`. */
  shim: string;
  /** Default true. Env `MEMOCALL_RERUN_ERRORS` (`0`/`1`). */
  rerunErrors: boolean;
  /** Default 90 000. Env `MEMOCALL_LEASE_TTL_MS`. */
  leaseTtlMs: number;
}

export const CONFIG_FILE = 'memocall.config.json';

/** process.emitWarning code of a config file ignored because someone else could have written it. */
export const UNTRUSTED_CONFIG = 'MEMOCALL_UNTRUSTED_CONFIG';

const CONFIG_DEFAULTS: MemocallConfig = {
  blobRoot: DEFAULTS.blobRoot,
  pipelineId: DEFAULTS.pipelineId,
  shim: DEFAULTS.shim,
  rerunErrors: DEFAULTS.rerunErrors,
  leaseTtlMs: DEFAULTS.leaseTtlMs,
};

/** Options > environment > config file (found upward from `cwd`) > defaults. */
export function resolveConfig(
  options: Partial<MemocallConfig> = {},
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): MemocallConfig {
  const file = readConfigFile(cwd);
  const fromEnv = settingsFromEnv(env);
  // Each source is checked under its own name, so a typo is reported where it was made.
  if (fromEnv.blobRoot !== undefined) normalizeBlobRoot(fromEnv.blobRoot, 'MEMOCALL_BLOB_ROOT');
  if (options.blobRoot !== undefined) normalizeBlobRoot(options.blobRoot, 'blobRoot');
  return { ...CONFIG_DEFAULTS, ...defined(file), ...fromEnv, ...defined(options) };
}

/** The nearest `memocall.config.json` upward from `cwd`, if it can be trusted (see `untrustedBecause`). */
function readConfigFile(cwd: string): Partial<MemocallConfig> {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const file = path.join(dir, CONFIG_FILE);
    const text = readTrusted(file);
    if (text !== undefined) return text === null ? {} : parseConfigFile(file, text);
    if (path.dirname(dir) === dir) return {};
  }
}

const warned = new Set<string>();

/**
 * The file's text; `undefined` when there is none; `null` when it is there but ignored (a
 * warning names it). The nearest file decides: an ignored one does not let a file further up
 * apply instead. Checked on the open descriptor, so the file read is the file judged.
 */
function readTrusted(file: string): string | null | undefined {
  let link: Stats;
  try {
    link = lstatSync(file);
  } catch {
    return undefined;
  }
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY);
  } catch (err) {
    throw new ConfigurationError(`${file} cannot be read: ${(err as Error).message}`);
  }
  try {
    const reason = untrustedBecause(link) ?? untrustedBecause(fstatSync(fd));
    if (reason !== undefined) {
      if (!warned.has(file)) {
        warned.add(file);
        process.emitWarning(`ignoring ${file}: ${reason}; settings come from options, MEMOCALL_* and defaults`, {
          code: UNTRUSTED_CONFIG,
        });
      }
      return null;
    }
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * A config file directs where every `pure()` call below it stores and runs: only the current
 * user or root may have written it. A symbolic link is judged as well as its target.
 */
function untrustedBecause(stats: Stats): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined; // Windows: no POSIX owners
  if (stats.uid !== uid && stats.uid !== 0)
    return `it is owned by uid ${stats.uid}, not by this user (uid ${uid}) or root`;
  if (!stats.isSymbolicLink() && (stats.mode & 0o022) !== 0)
    return `other users may write it (mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}; chmod go-w it)`;
  return undefined;
}

function parseConfigFile(file: string, text: string): Partial<MemocallConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigurationError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ConfigurationError(`${file} must hold a JSON object`);
  const config: Partial<MemocallConfig> = {};
  for (const [key, value] of Object.entries(parsed)) {
    const where = `${file}: ${key}`;
    switch (key) {
      case 'blobRoot':
        if (typeof value !== 'string' || !value) throw new ConfigurationError(`${where} must be a non-empty string`);
        normalizeBlobRoot(value, where);
        config.blobRoot = value;
        break;
      case 'pipelineId':
      case 'shim':
        if (typeof value !== 'string' || !value) throw new ConfigurationError(`${where} must be a non-empty string`);
        config[key] = value;
        break;
      case 'rerunErrors':
        if (typeof value !== 'boolean') throw new ConfigurationError(`${where} must be true or false`);
        config.rerunErrors = value;
        break;
      case 'leaseTtlMs':
        if (typeof value !== 'number' || !(value > 0))
          throw new ConfigurationError(`${where} must be a positive number`);
        config.leaseTtlMs = value;
        break;
      default:
        throw new ConfigurationError(
          `${where} is not a known setting (blobRoot, pipelineId, shim, rerunErrors, leaseTtlMs)`,
        );
    }
  }
  return config;
}

function defined<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}
