import { Command, Option } from 'commander';
import { cacheCommand } from './cache-command.js';
import { gcCommand } from './gc-command.js';
import { inspectCommand } from './inspect-command.js';
import { leaseCommand } from './lease-command.js';
import { lsCommand } from './ls-command.js';
import type { Output } from './output.js';
import { runCommand } from './run-command.js';
import { summarizeCommand } from './summarize-command.js';
import { memoUriArgument, uriArgument } from './uri-argument.js';
import { UsageError } from './usage-error.js';
import { memocallVersion } from './version.js';

export { CommanderError } from 'commander';

const ROOT_FORMS =
  'a URI (file:///abs/path, file://~/.memocall, memory://name, s3://bucket/prefix, adls://account/container/prefix) or a path (/abs, ~/x, ./rel)';

/** The `memocall` program: each command sets `exitCode`; usage errors throw. */
export function program(output: Output, setExit: (code: number) => void): Command {
  const json = new Option('--json', 'print JSON instead of text');
  const root = new Command('memocall')
    .description('content-addressed memoization of pure functions: inspect and run what is stored')
    .version(memocallVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for this command')
    .addHelpCommand('help [command]', 'show help for a command')
    .showSuggestionAfterError(true)
    .exitOverride()
    // Errors are printed once, by main, as one line.
    .configureOutput({ outputError: () => undefined });

  root
    .command('run')
    .summary('the remote entry: run one stored invocation')
    .description(
      'Run one stored invocation (what shims start). Exit 0: result written (or already there); 46: the ' +
        'function threw (error written); 47: the lease belongs to another writer; 1: memocall failed; ' +
        '2: usage (no such memo URI). Without --writer-id (by hand) it takes a lease of its own.',
    )
    .argument('<memo-uri>', 'the memo URI to run')
    .option('--writer-id <id>', "run under the caller's lease (shims pass it)")
    // Unknown flags are ignored (an older remote still serves a newer caller): parseRunArgv reads them.
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (_uri: string, _opts: unknown, command: Command) => {
      setExit(await runCommand(command.parent!.args.slice(1), output));
    });

  root
    .command('inspect')
    .summary('arguments, result or error, lease and runs of one memo URI')
    .argument('<memo-uri>', 'a memo URI (or its path, for file://)')
    .addOption(json)
    .action(async (uri: string, opts: { json?: boolean }) =>
      setExit(await inspectCommand(memoUriArgument(uri), opts, output)),
    );

  root
    .command('lease')
    .summary('who holds the lease of a memo URI, until when')
    .argument('<memo-uri>', 'a memo URI (or its path, for file://)')
    .addOption(json)
    .action(async (uri: string, opts: { json?: boolean }) =>
      setExit(await leaseCommand(memoUriArgument(uri), opts, output)),
    );

  root
    .command('ls')
    .summary('memo URIs under a prefix: status, function, age, size')
    .description(
      'One line per memo URI under the prefix: status (result, error, running, invocation only), ' +
        'function[@logic key], age, size of the result or error. --json: one JSON object per line.',
    )
    .argument('<uri-prefix>', ROOT_FORMS)
    .addOption(json)
    .action(async (prefix: string, opts: { json?: boolean }) =>
      setExit(await lsCommand(uriArgument(prefix, 'URI prefix'), opts, output)),
    );

  root
    .command('summarize')
    .summary('runs per pipeline, function and logic key: errors, lost races, durations')
    .argument('<uri-prefix>', ROOT_FORMS)
    .addOption(json)
    .action(async (prefix: string, opts: { json?: boolean }) =>
      setExit(await summarizeCommand(uriArgument(prefix, 'URI prefix'), opts, output)),
    );

  root
    .command('worker')
    .summary('a warm worker for queue() shims')
    .description(
      'Run queued invocations in this process (redis://[user:password@]host:port[/db]/<queue name>). ' +
        'On SIGTERM, SIGINT or SIGHUP it finishes its running jobs (up to the grace), then exits; ' +
        'a second signal exits at once. An unreachable Redis is reported and retried.',
    )
    .option('--queue <redis-url>', 'the queue: redis://host:port[/db]/<queue name>')
    .option('--concurrency <n>', 'jobs at once in this process', '1')
    .option('--lock-ms <ms>', 'a job whose lock is not renewed for this long is stalled', '30000')
    .option('--stalled-interval-ms <ms>', 'how often to look for stalled jobs', '30000')
    .option('--shutdown-grace-ms <ms>', 'how long running jobs may finish after a signal', '30000')
    .option('-v, --verbose', 'one line per job')
    .action(async (opts: { queue?: string } & Record<string, string>) => {
      if (!opts.queue) throw new UsageError('worker needs --queue <redis-url>');
      // Loaded on demand: only the worker needs the queue client.
      const { workerCommand } = await import('./worker-command.js');
      setExit(await workerCommand({ ...opts, queue: opts.queue } as Parameters<typeof workerCommand>[0], output));
    });

  root
    .command('gc')
    .summary("remove what killed writers left in a file:// store (dead writers' temp files)")
    .argument('<root>', ROOT_FORMS)
    .option('--dry-run', 'only list what would be removed')
    .addOption(json)
    .action(async (store: string, opts: { dryRun?: boolean; json?: boolean }) =>
      setExit(await gcCommand(uriArgument(store, 'blob root'), opts, output)),
    );

  const cache = root
    .command('cache')
    .summary('the machine-global download cache (MEMOCALL_CACHE_DIR)')
    .action(() => {
      throw new UsageError('expected ls, verify or prune');
    });
  cache
    .command('ls')
    .summary('entries: sha256, size, last use, URIs')
    .action(async () => setExit(await cacheCommand(['ls'])));
  cache
    .command('verify')
    .summary('re-hash every entry; corrupted ones are removed (exit 3 if any)')
    .action(async () => setExit(await cacheCommand(['verify'])));
  cache
    .command('prune')
    .summary('remove least recently used entries, and leftovers of dead downloads')
    .option('--max-bytes <n>', 'keep at most N bytes (K, M, G, T suffixes; default: the cap)')
    .action(async (opts: { maxBytes?: string }) =>
      setExit(await cacheCommand(['prune', ...(opts.maxBytes === undefined ? [] : ['--max-bytes', opts.maxBytes])])),
    );
  return root;
}
