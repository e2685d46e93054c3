import type { QueueRedisOptions as RedisOptions } from './queue-redis-options.js';
import { ConfigurationError } from '../../core/configuration-error.js';
import { redactUri } from '../../core/redact-uri.js';

/** The queue memocall uses when none is named. */
export const DEFAULT_QUEUE_NAME = 'memocall';

/** Where a queue lives: Redis connection options and the queue's name. */
export interface QueueLocation {
  redis: RedisOptions;
  name: string;
}

/**
 * `redis://[user:password@]host[:port][/db]/<queue name>` (`rediss://` for TLS) → connection
 * options and queue name. The last path segment is the queue's name; a numeric segment before it
 * selects the database. `redis://127.0.0.1:6379/train` is the queue `train` in database 0.
 */
export function parseQueueUrl(url: string): QueueLocation {
  let parsed: URL;
  const shown = redactUri(url); // a Redis URL may carry a password: never echo it
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigurationError(`not a Redis URL: ${JSON.stringify(shown)} (expected redis://host:port/queue-name)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new ConfigurationError(`not a Redis URL: ${JSON.stringify(shown)} (expected redis:// or rediss://)`);
  }
  const segments = parsed.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let db: number | undefined;
  if (segments.length > 1) {
    const first = segments.shift()!;
    if (!/^\d+$/.test(first)) throw new ConfigurationError(`${shown}: expected redis://host:port[/db]/queue-name`);
    db = Number(first);
  }
  if (segments.length > 1) throw new ConfigurationError(`${shown}: expected redis://host:port[/db]/queue-name`);
  const redis: RedisOptions = { host: parsed.hostname || '127.0.0.1', port: parsed.port ? Number(parsed.port) : 6379 };
  if (parsed.username) redis.username = decodeURIComponent(parsed.username);
  if (parsed.password) redis.password = decodeURIComponent(parsed.password);
  if (db !== undefined) redis.db = db;
  if (parsed.protocol === 'rediss:') redis.tls = {};
  return { redis, name: segments[0] ?? DEFAULT_QUEUE_NAME };
}

/** The queue of a `connection` option (a URL, or ioredis options) and an optional explicit name. */
export function queueLocation(connection: string | RedisOptions, name?: string): QueueLocation {
  const location =
    typeof connection === 'string' ? parseQueueUrl(connection) : { redis: { ...connection }, name: DEFAULT_QUEUE_NAME };
  if (name !== undefined) {
    if (!name || name.includes(':'))
      throw new ConfigurationError(`queue name must be non-empty and free of ':', got ${JSON.stringify(name)}`);
    location.name = name;
  }
  return location;
}
