#!/usr/bin/env node
/**
 * The `syncline` command (DESIGN §1.2). Every command takes --config FILE
 * and --json; exit codes: 0 ok, 1 a sync failed, 2 bad config or usage,
 * 130 cancelled.
 */
// First: its settings apply to everything the other imports allocate.
import './heap-settings.js'
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { automapCommand } from './automap.js'
import { checkCommand } from './check.js'
import { conflictsCommand } from './conflicts.js'
import { discoverCommand } from './discover.js'
import { forgetCommand } from './forget.js'
import { historyCommand } from './history.js'
import { initCommand } from './init.js'
import { EXIT, quietOnClosedPipes, reportError, setDebug, type GlobalOptions } from './output.js'
import { pruneCommand } from './prune.js'
import { runCommand } from './run.js'
import type { ServeCommandOptions } from './serve.js'
import { LOG_LEVELS } from '../server/log-levels.js'
import { statusCommand } from './status.js'
import { validateCommand } from './validate.js'
import { verifyCommand } from './verify.js'
import { watchCommand } from './watch.js'

/**
 * `serve` loads the daemon (fastify, websockets, metrics, pino) only when
 * it runs: every other command starts without them (a third of a second
 * less before a `run` starts copying).
 */
async function serveCommand(options: ServeCommandOptions): Promise<number> {
  return (await import('./serve.js')).serveCommand(options)
}

quietOnClosedPipes()
// Errors can escape before commander hands over the options (and from
// callbacks outside any command), so --debug is read from argv here too.
setDebug(process.argv.slice(2).includes('--debug'))

const program = new Command()
program
  .name('syncline')
  .description('Keep records in step between PostgreSQL, MySQL/MariaDB, SQLite and files.')
  .version('0.1.0')
  .addOption(new Option('-c, --config <file>', 'the plan file (default ./syncline.yaml or $SYNCLINE_CONFIG)'))
  .option('--json', 'machine-readable output on stdout, logs on stderr')
  .option('--debug', 'print stack traces of unexpected errors (also SYNCLINE_DEBUG=1)')
  .showSuggestionAfterError(true)
  .exitOverride()

/** Parse an option that counts something; a usage error (exit 2) otherwise. */
function positiveInteger(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('give a whole number of 1 or more, e.g. --limit 50.')
  return n
}

/** Parse a TCP port; a usage error (exit 2) otherwise. */
function port(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('give a port number from 0 to 65535, e.g. --port 7070.')
  return n
}

/** Wrap a command so its return value becomes the exit code and errors are reported. */
function action<A extends unknown[]>(fn: (...args: [...A, GlobalOptions]) => Promise<number>) {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command
    const opts = { ...program.opts(), ...command.opts() } as GlobalOptions
    const positional = args.slice(0, -2) as A
    try {
      process.exitCode = await fn(...positional, opts)
    } catch (error) {
      process.exitCode = reportError(error, opts)
    }
  }
}

program.command('init').description('write a commented starter syncline.yaml').option('--force', 'overwrite an existing file').action(action(initCommand))
program.command('validate').description('validate the plan; --live also checks datasources, entities and fields').option('--live', 'check against the live datasources').action(action(validateCommand))
program.command('check').description('connect and report version, capabilities and CDC readiness').argument('[connection...]').action(action(checkCommand))
program.command('discover').description('list entities, fields, types and keys').argument('<connection>').argument('[entity]').action(action(discoverCommand))
program
  .command('automap')
  .description('print the mapping auto-map would use')
  .argument('<source>', 'source connection')
  .argument('<sourceEntity>')
  .argument('<destination>', 'destination connection')
  .argument('<destinationEntity>')
  .action(action(automapCommand))
program
  .command('run')
  .description('run syncs once (default: all of them)')
  .argument('[sync...]')
  .option('--full', 'ignore saved watermarks and compare everything')
  .option('--dry-run', 'write nothing; print what would be created, updated and deleted')
  .option('-q, --quiet', 'no progress display')
  .action(action(runCommand))
program
  .command('serve')
  .description('daemon: runs syncs on their schedules, keeps realtime syncs streaming, serves the HTTP API and /metrics')
  .option('-p, --port <port>', 'port of the HTTP API (0: any free port)', port, 7070)
  .option('--host <address>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
  .option('--no-auth', 'serve without SYNCLINE_TOKEN (loopback addresses only)')
  .addOption(new Option('--log-level <level>', 'least severe log level written').choices(LOG_LEVELS).default('info'))
  .action(action(serveCommand))
program
  .command('verify')
  .description('compare source and destination without writing; exit 1 when they differ')
  .argument('[sync...]')
  .action(action(verifyCommand))
program.command('status').description('watermark and last run of every sync').action(action(statusCommand))
program
  .command('history')
  .description('run history, newest first; with a sync id, also rejected records')
  .argument('[sync]')
  .option('-n, --limit <n>', 'runs to show', positiveInteger, 20)
  .action(action(historyCommand))
program
  .command('forget')
  .description("forget a sync's state (watermark, history, stream position) and drop its change-feed consumer at the source")
  .argument('<sync>')
  .action(action(forgetCommand))
program
  .command('prune')
  .description("drop run history and record errors beyond the plan's history: retention (default 30 days or 1,000 runs per sync, whichever keeps more)")
  .option('--dry-run', 'remove nothing; print what would be removed')
  .action(action(pruneCommand))
program
  .command('watch')
  .description('print change events as they commit (NDJSON with --json) until Ctrl-C')
  .argument('<connection>')
  .argument('<entity>')
  .option('--since <position>', 'resume after this position (an event\'s, or the one printed when a watch stopped)')
  .action(action(watchCommand))
program
  .command('conflicts')
  .description('two-way conflicts waiting for a person; `conflicts resolve ID --take source|destination` settles one')
  .argument('[action]', 'resolve')
  .argument('[id]', 'the conflict id (from the list)')
  .option('--take <side>', 'with resolve: source or destination')
  .option('--sync <id>', 'only this sync')
  .option('--all', 'also list resolved conflicts')
  .option('-n, --limit <n>', 'conflicts to show', positiveInteger, 100)
  .action(action(conflictsCommand))

// Options like --config and --json may come after the command name too.
for (const command of program.commands) {
  command.addOption(new Option('-c, --config <file>', 'the plan file').hideHelp())
  command.addOption(new Option('--json', 'machine-readable output').hideHelp())
  command.addOption(new Option('--debug', 'print stack traces').hideHelp())
}

/** An error no command caught (a bug, or a callback gone wrong): the message, no stack trace unless --debug, exit 1. */
function unexpected(error: unknown): void {
  reportError(error, program.opts() as GlobalOptions)
  process.exit(EXIT.syncFailed)
}
process.on('uncaughtException', unexpected)
process.on('unhandledRejection', unexpected)

try {
  await program.parseAsync(process.argv)
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version exit 0; usage errors exit 2 (commander printed the message).
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.badConfig
  } else {
    process.exitCode = reportError(error, program.opts() as GlobalOptions)
  }
}
