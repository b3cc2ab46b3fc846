/**
 * The daemon's structured logs (pino): one JSON object per line on stderr,
 * with `syncId` and `runId` on every line about a run, or a short readable
 * line per entry when stderr is a terminal. Every line passes through the
 * CLI's secret redaction (the plan's passwords, tokens and URL passwords
 * become `***`), and fields named like secrets are censored by pino.
 *
 * @example
 * const logger = createLogger({ level: 'info' })
 * logger.child({ syncId: 'customers', runId }).info({ attempt: 2 }, 'run started')
 */
import { pino, type Logger, type LevelWithSilent, type DestinationStream } from 'pino'
import { redact } from '../cli/output.js'

export { LOG_LEVELS } from './log-levels.js'

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Default `info`. */
  level?: LevelWithSilent
  /** Readable lines instead of JSON (default: when stderr is a TTY). */
  pretty?: boolean
  /** Where lines go (default stderr). */
  stream?: NodeJS.WritableStream
}

/** Field paths pino censors wherever they appear in a logged object. */
const REDACTED_PATHS = ['password', 'token', 'secret', 'authorization', '*.password', '*.token', '*.secret', '*.authorization', 'req.headers.authorization']

/** A pino logger as described in the module comment. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const out = opts.stream ?? process.stderr
  const pretty = opts.pretty ?? (out === process.stderr && process.stderr.isTTY === true)
  const destination: DestinationStream = { write: (line: string) => void out.write(pretty ? prettyLine(line) : line) }
  return pino(
    {
      level: opts.level ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '***' },
      formatters: { level: (label) => ({ level: label }) },
      hooks: { streamWrite: (line) => redact(line) },
    },
    destination,
  )
}

const LEVEL_WIDTH = 5

/** `12:00:01 INFO  customers 1f2e… run finished status=succeeded` from a JSON line. */
function prettyLine(line: string): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(line) as Record<string, unknown>
  } catch {
    return line
  }
  const { time, level, msg, syncId, runId, pid: _pid, ...rest } = entry
  const clock = typeof time === 'string' ? time.slice(11, 19) : ''
  const who = [syncId, typeof runId === 'string' ? runId.slice(0, 8) : undefined].filter((x) => x !== undefined).join(' ')
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ')
  return `${clock} ${String(level).toUpperCase().padEnd(LEVEL_WIDTH)} ${who ? `${who} ` : ''}${String(msg ?? '')}${fields ? ` ${fields}` : ''}\n`
}
