// The queue shim's pure parts, without Redis: where a queue URL points, job ids, option checks,
// and the worker command's usage errors.
import path from 'node:path';
import { expect, test } from 'vitest';
import {
  ConfigurationError,
  KEY_FORMAT_VERSION,
  MemoizingRunner,
  queue,
  QueueConnectionError,
  useRunner,
} from '../../../src/index.js';
import { parseQueueUrl, queueLocation } from '../../../src/shims/queue/queue-connection.js';
import { queueJobId } from '../../../src/shims/queue/queue-job.js';
import { projectRoot, runCommand } from '../../support/child.js';
import { freePort } from '../../support/redis-server.js';

test('queue URLs: redis://host:port[/db]/<queue name>, rediss:// for TLS, credentials decoded', () => {
  expect(parseQueueUrl('redis://127.0.0.1:6379/train')).toEqual({
    redis: { host: '127.0.0.1', port: 6379 },
    name: 'train',
  });
  expect(parseQueueUrl('redis://cache.internal/2/train')).toEqual({
    redis: { host: 'cache.internal', port: 6379, db: 2 },
    name: 'train',
  });
  expect(parseQueueUrl('redis://localhost:7000')).toEqual({
    redis: { host: 'localhost', port: 7000 },
    name: 'memocall',
  });
  expect(parseQueueUrl('rediss://user:p%40ss@h:6380/q')).toEqual({
    redis: { host: 'h', port: 6380, username: 'user', password: 'p@ss', tls: {} },
    name: 'q',
  });
  expect(() => parseQueueUrl('http://h/q')).toThrow(ConfigurationError);
  expect(() => parseQueueUrl('redis://h/a/b')).toThrow(/queue-name/);
  expect(() => parseQueueUrl('not a url')).toThrow(ConfigurationError);
  expect(queueLocation('redis://h/q', 'other').name).toBe('other');
  expect(queueLocation({ host: 'h', port: 1 }).name).toBe('memocall');
  expect(() => queueLocation('redis://h/q', 'bad:name')).toThrow(ConfigurationError);
});

test('job ids: one per memo URI and lease holder, free of ":"', () => {
  const id = queueJobId(`file:///m/${KEY_FORMAT_VERSION}/p/f/k`, '-w_1');
  expect(id).toMatch(/^[0-9a-f]{32}\.-w_1$/);
  expect(queueJobId(`file:///m/${KEY_FORMAT_VERSION}/p/f/k`, '-w_1')).toBe(id);
  expect(queueJobId(`file:///m/${KEY_FORMAT_VERSION}/p/f/k`, 'w2')).not.toBe(id);
  expect(id).not.toContain(':');
});

test('queue() options are checked when the shim is made; nothing connects before the first call', async () => {
  expect(() => queue({ connection: 'redis://h/q', attempts: 0 })).toThrow(ConfigurationError);
  expect(() => queue({ connection: 'ftp://h/q' })).toThrow(ConfigurationError);
  const shim = queue({ connection: 'redis://127.0.0.1:1/never-contacted' });
  expect(shim.queueName).toBe('never-contacted');
  await shim.close(); // nothing to close
  // @ts-expect-error the connection is required
  expect(() => queue({})).toThrow(ConfigurationError);
  // @ts-expect-error nested takes two values only
  queue({ connection: 'redis://h/q', nested: 'sometimes' });
});

test('`memocall worker` without --queue, or with a bad value, is a usage error (exit 2)', async () => {
  const cli = path.join(projectRoot, 'dist/src/cli/main.js');
  const missing = await runCommand(process.execPath, [cli, 'worker']);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain('worker needs --queue <redis-url>');
  const bad = await runCommand(process.execPath, [cli, 'worker', '--queue', 'redis://h/q', '--concurrency', 'lots']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('--concurrency must be a whole number');
});

test('a call whose Redis cannot be reached fails with QueueConnectionError after connectTimeoutMs, and leaves nothing reconnecting', async () => {
  const port = await freePort(); // nothing listens there
  const shim = queue({ connection: `redis://127.0.0.1:${port}/q`, connectTimeoutMs: 500 });
  const runner = new MemoizingRunner({ blobRoot: 'memory://queue-units-down', shim });
  const plusOne = useRunner(runner, async (x: number) => x + 1, { id: 'queue-units/plus-one' });
  const started = Date.now();
  const error = await plusOne(1).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(QueueConnectionError);
  expect((error as QueueConnectionError).code).toBe('MEMOCALL_QUEUE_CONNECTION');
  expect(Date.now() - started).toBeLessThan(10_000);
  await shim.close();
});
