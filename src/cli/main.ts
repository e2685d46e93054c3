import { MemocallError } from '../core/memocall-error.js';
import { ConfigurationError } from '../core/configuration-error.js';
import { redactUris } from '../core/redact-uri.js';
import { RUN_EXIT } from '../protocol/run-request.js';
import '../setup.js';
import { endQuietlyOnBrokenPipe, Output } from './output.js';
import { runCommand } from './run-command.js';
import { UsageError } from './usage-error.js';

const COMMANDS = new Set(['run', 'inspect', 'lease', 'ls', 'summarize', 'worker', 'cache']);

let isCommanderError = (_err: unknown): boolean => false;

/**
 * Runs the command line; returns the exit code. Usage errors (a bad argument, a URI naming
 * nothing, a bad setting) are one line and exit 2; memocall's own errors one line and exit 1;
 * anything else is a bug, printed with its stack. Every message has credentials redacted.
 */
async function main(argv: string[], output = new Output()): Promise<number> {
  let exitCode = 0;
  const command = argv[0];
  try {
    // The remote entry starts for every remote call (a Job, a queued run): it loads no parser.
    if (command === 'run' && !argv.some((a) => a === '-h' || a === '--help'))
      return await runCommand(argv.slice(1), output);
    const { program, CommanderError } = await import('./program.js');
    isCommanderError = (err) => err instanceof CommanderError;
    await program(output, (code) => (exitCode = code)).parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    const where = command !== undefined && COMMANDS.has(command) ? command : '';
    const say = (message: string) => output.warn(where, message);
    if (isCommanderError(err)) {
      const { code, message } = err as { code: string; message: string };
      if (code === 'commander.helpDisplayed' || code === 'commander.version') return 0;
      if (code === 'commander.help' || code === 'commander.executeSubCommandAsync') return 2;
      say(`${message.replace(/^error: /, '')} (see memocall ${where ? `${where} ` : ''}--help)`);
      return 2;
    }
    if (err instanceof UsageError || err instanceof ConfigurationError) {
      say(err.message);
      return 2;
    }
    if (err instanceof MemocallError) {
      say(`${err.message} (${err.code})`);
      return RUN_EXIT.internal;
    }
    output.warn(
      where,
      `internal failure: ${err instanceof Error ? (err.stack ?? err.message) : redactUris(String(err))}`,
    );
    return RUN_EXIT.internal;
  }
}

const args = process.argv.slice(2);
// `run` exits as soon as its outcome is stored: timers or sockets the user's code left open must
// not keep a remote (and the shim waiting for it) alive. A remote whose caller went away must
// still finish, so only the other commands end on a closed pipe.
if (args[0] !== 'run') endQuietlyOnBrokenPipe();
main(args).then((code) => {
  if (args[0] === 'run') process.exit(code);
  process.exitCode = code;
});
