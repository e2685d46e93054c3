import { ConfigurationError } from '../core/configuration-error.js';

/** The settings the `MEMOCALL_*` environment can give (see README, "Configuration"). */
export interface EnvSettings {
  blobRoot?: string;
  pipelineId?: string;
  shim?: string;
  rerunErrors?: boolean;
  leaseTtlMs?: number;
}

/** Variable name of each setting. */
export const SETTING_ENV = {
  blobRoot: 'MEMOCALL_BLOB_ROOT',
  pipelineId: 'MEMOCALL_PIPELINE_ID',
  shim: 'MEMOCALL_SHIM',
  rerunErrors: 'MEMOCALL_RERUN_ERRORS',
  leaseTtlMs: 'MEMOCALL_LEASE_TTL_MS',
} as const satisfies Record<keyof EnvSettings, string>;

/**
 * The settings set in `env` (an empty variable counts as unset). Strict: a value that cannot be
 * what its variable means (`MEMOCALL_LEASE_TTL_MS=abc`) is a ConfigurationError naming the variable,
 * never silently the default.
 */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): EnvSettings {
  const settings: EnvSettings = {};
  const text = (key: keyof EnvSettings) => env[SETTING_ENV[key]] || undefined;
  const blobRoot = text('blobRoot');
  if (blobRoot !== undefined) settings.blobRoot = blobRoot;
  const pipelineId = text('pipelineId');
  if (pipelineId !== undefined) settings.pipelineId = pipelineId;
  const shim = text('shim');
  if (shim !== undefined) settings.shim = shim;
  const rerunErrors = text('rerunErrors');
  if (rerunErrors !== undefined) settings.rerunErrors = parseBoolean(rerunErrors, SETTING_ENV.rerunErrors);
  const leaseTtlMs = text('leaseTtlMs');
  if (leaseTtlMs !== undefined) settings.leaseTtlMs = parsePositiveMs(leaseTtlMs, SETTING_ENV.leaseTtlMs);
  return settings;
}

function parseBoolean(value: string, name: string): boolean {
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  throw new ConfigurationError(`${name} must be 1/true or 0/false, got ${JSON.stringify(value)}`);
}

function parsePositiveMs(value: string, name: string): number {
  const ms = Number(value);
  if (!Number.isFinite(ms) || ms <= 0)
    throw new ConfigurationError(`${name} must be a positive number of milliseconds, got ${JSON.stringify(value)}`);
  return ms;
}
