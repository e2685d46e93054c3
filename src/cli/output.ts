import { redactUris } from '../core/redact-uri.js';

/**
 * Lines to stdout that respect back-pressure (a long `ls` into a slow pipe does not pile up in
 * memory) and messages to stderr, always with credentials in URIs redacted.
 */
export class Output {
  constructor(
    private readonly out: NodeJS.WritableStream = process.stdout,
    private readonly err: NodeJS.WritableStream = process.stderr,
  ) {}

  async line(text: string): Promise<void> {
    if (!this.out.write(`${text}\n`)) await new Promise<void>((resolve) => this.out.once('drain', resolve));
  }

  json(value: unknown): Promise<void> {
    return this.line(JSON.stringify(value, null, 2));
  }

  /** One line on stderr: `memocall <command>: <message>`. */
  warn(command: string, message: string): void {
    this.err.write(`${redactUris(`memocall${command ? ` ${command}` : ''}: ${message}`)}\n`);
  }
}

/**
 * `memocall ls ... | head -1`: once the reader is gone, writing more is pointless. End quietly
 * (exit 0, as `head` got what it asked for) instead of dying of an unhandled EPIPE.
 */
export function endQuietlyOnBrokenPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
}

/** `3.2 s`, `4 min`, `2 h`, `5 d`: how long ago, for people. */
export function formatAge(from: Date, now = Date.now()): string {
  const s = Math.max(0, (now - from.getTime()) / 1000);
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86_400)} d`;
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}
