/**
 * A one-line progress bar for long transfers, on stderr when it is a terminal: nothing at all for
 * transfers that end within `delayMs`, or when output is piped (logs stay clean). Hand-written:
 * a dozen lines do what is needed here, where a library would bring its own terminal handling.
 *
 *   ⇣ s3://bucket/big.parquet  [██████████░░░░░░░░░░]  512.0 MiB / 1.0 GiB  98.3 MiB/s  ETA 5s
 */

export interface ProgressOptions {
  /** Where to draw. Default `process.stderr`. */
  stream?: NodeJS.WriteStream;
  /** Nothing is drawn before this much time has passed. Default 2000 ms. */
  delayMs?: number;
  /** Redraw interval. Default 200 ms. */
  intervalMs?: number;
  /** Draw even when the stream is not a TTY (tests, `MEMOCALL_PROGRESS=1`). Default: only on a TTY. */
  force?: boolean;
}

/** `MEMOCALL_PROGRESS=0` turns bars off, `=1` forces them on a non-TTY. */
export const PROGRESS_ENV = 'MEMOCALL_PROGRESS';

export interface Progress {
  /** Bytes done so far (absolute, not a delta). */
  update(doneBytes: number): void;
  /** Stops drawing; clears the line if one was drawn. Safe to call more than once. */
  stop(): void;
}

const NOOP: Progress = { update() {}, stop() {} };

/** Starts tracking a transfer of `totalBytes` (undefined: unknown) described by `label` (e.g. `⇣ s3://b/k`). */
export function startProgress(label: string, totalBytes: number | undefined, options: ProgressOptions = {}): Progress {
  const env = process.env[PROGRESS_ENV];
  if (env === '0') return NOOP;
  const stream = options.stream ?? process.stderr;
  const force = options.force ?? env === '1';
  if (!force && !stream.isTTY) return NOOP;
  const started = Date.now();
  const delayMs = options.delayMs ?? 2000;
  let done = 0;
  let drawn = false;
  const draw = (): void => {
    if (Date.now() - started < delayMs) return;
    stream.write(`\r${renderProgressLine(label, done, totalBytes, Date.now() - started, stream.columns ?? 100)}\x1b[K`);
    drawn = true;
  };
  const timer = setInterval(draw, options.intervalMs ?? 200);
  timer.unref();
  let stopped = false;
  return {
    update(doneBytes) {
      done = doneBytes;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}

/** The text of one bar (no control characters), fitted to `columns`. */
export function renderProgressLine(
  label: string,
  done: number,
  total: number | undefined,
  elapsedMs: number,
  columns: number,
): string {
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const parts: string[] = [];
  if (total !== undefined && total > 0) {
    const fraction = Math.min(1, done / total);
    const width = 20;
    const full = Math.round(fraction * width);
    parts.push(
      `[${'█'.repeat(full)}${'░'.repeat(width - full)}]`,
      `${formatBytes(done)} / ${formatBytes(total)}`,
      `${formatBytes(rate)}/s`,
    );
    parts.push(rate > 0 ? `ETA ${formatDuration(((total - done) / rate) * 1000)}` : 'ETA ?');
  } else {
    parts.push(formatBytes(done), `${formatBytes(rate)}/s`, formatDuration(elapsedMs));
  }
  const tail = parts.join('  ');
  const room = Math.max(10, columns - tail.length - 5);
  const shown = label.length > room ? `…${label.slice(label.length - room + 1)}` : label;
  return `${shown}  ${tail}`;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
