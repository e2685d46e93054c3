import type { LeaseRecord } from '../protocol/lease-record.js';

/** What the main thread tells the heartbeat thread (lease-heartbeat-thread.ts). */
export type ToHeartbeatThread =
  | {
      type: 'hold';
      id: number;
      uri: string;
      etag: string;
      record: LeaseRecord;
      refreshMs: number;
      /** How long ago (ms) the stored heartbeat was stamped: the next one is due a period after. */
      stampedAgoMs: number;
      writeBudgetMs: number;
    }
  | { type: 'stop'; id: number };

/** What the heartbeat thread tells the main thread. */
export type FromHeartbeatThread =
  | { type: 'ready'; id?: undefined }
  | { type: 'refreshed'; id: number; etag: string; record: LeaseRecord; confirmedAt: number; tookMs: number }
  | { type: 'lost'; id: number; detail: string }
  | { type: 'retrying'; id: number; message: string }
  | { type: 'stopped'; id: number; etag?: string; record?: LeaseRecord };
