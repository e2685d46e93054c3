import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigurationError } from '../core/configuration-error.js';
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
  return { ...CONFIG_DEFAULTS, ...defined(file), ...settingsFromEnv(env), ...defined(options) };
}

function readConfigFile(cwd: string): Partial<MemocallConfig> {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const file = path.join(dir, CONFIG_FILE);
    if (existsSync(file)) return parseConfigFile(file);
    if (path.dirname(dir) === dir) return {};
  }
}

function parseConfigFile(file: string): Partial<MemocallConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
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
