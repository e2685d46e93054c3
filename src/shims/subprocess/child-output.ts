import type { Readable } from 'node:stream';

/**
 * Copies a child's output line by line, each line prefixed (`[fib Abc12345] `), so the output
 * of concurrent children stays readable. A last line without a newline is flushed at the end.
 * `onLine` sees each line first; when it returns true the line was consumed and is not written.
 */
export function forwardLines(
  stream: Readable,
  prefix: string,
  write: ((text: string) => void) | undefined,
  onLine?: (line: string) => boolean,
): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const text = pending + chunk;
    const lines = text.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) emit(line);
  });
  stream.on('end', () => {
    if (pending) emit(pending);
    pending = '';
  });
  function emit(line: string): void {
    const clean = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (onLine?.(clean) === true) return;
    write?.(`${prefix}${clean}\n`);
  }
}

/** The last lines of an output, bounded in count and size, for error messages. */
export class OutputTail {
  private readonly lines: string[] = [];

  constructor(
    private readonly maxLines = 40,
    private readonly maxLineLength = 2_000,
  ) {}

  push(line: string): void {
    this.lines.push(line.length > this.maxLineLength ? `${line.slice(0, this.maxLineLength)}…` : line);
    if (this.lines.length > this.maxLines) this.lines.shift();
  }

  toString(): string {
    return this.lines.join('\n');
  }
}
