/**
 * memocall's warnings (`MEMOCALL_*` codes) raised in a child reach the caller as warnings of its
 * own (`process.on('warning')`, Node's printing, `--no-warnings` all apply there), not merely as
 * a line of the child's output: the child writes each one as a structured stderr line, which the
 * shim takes out of the output and emits again, once per distinct warning in the caller's process.
 * Other warnings are printed by the child as Node would.
 */
export const RELAY_WARNINGS_ENV = 'MEMOCALL_RELAY_WARNINGS';
const LINE_PREFIX = '\u0000memocall-warning ';

interface RelayedWarning {
  name: string;
  code: string;
  message: string;
}

/** In the child: relay memocall's warnings when the shim reads the output (RELAY_WARNINGS_ENV). */
export function relayWarningsToParent(): void {
  if (process.env[RELAY_WARNINGS_ENV] !== '1') return;
  const printers = process.listeners('warning');
  for (const printer of printers) process.removeListener('warning', printer);
  process.on('warning', (warning: Error & { code?: unknown }) => {
    if (typeof warning.code === 'string' && warning.code.startsWith('MEMOCALL_')) {
      const relayed: RelayedWarning = { name: warning.name, code: warning.code, message: warning.message };
      process.stderr.write(`${LINE_PREFIX}${JSON.stringify(relayed)}\n`);
      return;
    }
    for (const printer of printers) printer.call(process, warning);
  });
}

const reemitted = new Set<string>();

/**
 * In the caller: if `line` (of a child's stderr) is a relayed warning, emits it here (once per
 * distinct warning) and returns true; the line is then not shown as output.
 */
export function reemitChildWarning(line: string): boolean {
  if (!line.startsWith(LINE_PREFIX)) return false;
  let relayed: RelayedWarning;
  try {
    relayed = JSON.parse(line.slice(LINE_PREFIX.length)) as RelayedWarning;
  } catch {
    return false;
  }
  const key = `${relayed.code}\n${relayed.message}`;
  if (!reemitted.has(key)) {
    reemitted.add(key);
    process.emitWarning(relayed.message, { type: relayed.name, code: relayed.code });
  }
  return true;
}
