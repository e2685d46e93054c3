/**
 * How to reach Redis: the options of ioredis (which BullMQ passes them to), declared here as far
 * as memocall's types need, so that its public types name no bullmq/ioredis package: a user who
 * never uses the queue shim needs neither installed, not even for type-checking. Every ioredis
 * option is accepted and passed through unchanged.
 */
export interface QueueRedisOptions {
  host?: string;
  port?: number;
  username?: string;
  password?: string;
  db?: number;
  /** TLS options of `tls.connect` (an object turns TLS on). */
  tls?: object;
  /** Delay before reconnect attempt `times`, or null to stop (ioredis' `retryStrategy`). */
  retryStrategy?: (times: number) => number | null | undefined;
  [ioredisOption: string]: unknown;
}
