/**
 * How the CLI talks: results on stdout (one JSON object per line with
 * --json), logs and progress on stderr, and exit codes that scripts rely on:
 * 0 ok, 1 a sync failed, 2 bad config or usage, 130 cancelled.
 */
import { PlanError, SynclineError } from '../errors.js'

/** Exit codes of every command. */
export const EXIT = { ok: 0, syncFailed: 1, badConfig: 2, cancelled: 130 } as const

/** Options every command takes. */
export interface GlobalOptions {
  config?: string
  json?: boolean
  /** Print stack traces of unexpected errors (also `SYNCLINE_DEBUG=1`). */
  debug?: boolean
}

let debug = Boolean(process.env.SYNCLINE_DEBUG)

/** Turn on stack traces for unexpected errors (`--debug`); `SYNCLINE_DEBUG` turns them on too. */
export function setDebug(on: boolean | undefined): void {
  if (on) debug = true
}

/** Streams whose reader went away (`syncline status | head -1`): nothing more is written to them. */
const closedStreams = new WeakSet<NodeJS.WritableStream>()

/**
 * Make output into a closed pipe end quietly. `syncline status | head -1`
 * closes stdout after one line; Node then reports EPIPE as an 'error'
 * event, which crashes with a stack trace unless handled. The command goes
 * on (a run still finishes and records its state) and writes nothing more
 * to that stream. Call once, at startup.
 */
export function quietOnClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') {
        closedStreams.add(stream)
        return
      }
      throw error
    })
  }
}

function write(stream: NodeJS.WriteStream, text: string): void {
  if (closedStreams.has(stream) || stream.destroyed) return
  stream.write(text)
}

const secrets = new Set<string>()

/**
 * Values that must never be printed: the plan's passwords. Messages are
 * written not to carry them; this is the second line of defence, applied
 * to everything the CLI prints.
 */
export function hideSecrets(values: Iterable<string | undefined>): void {
  for (const value of values) {
    // Very short values would blank out ordinary words.
    if (value === undefined || value.length < 3) continue
    secrets.add(value)
    secrets.add(encodeURIComponent(value))
    secrets.add(JSON.stringify(value).slice(1, -1))
  }
}

/** The text with every hidden value replaced by `***`. */
export function redact(text: string): string {
  let out = text
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join('***')
  return out
}

/** Print one machine-readable line on stdout. */
export function printJson(value: unknown): void {
  write(process.stdout, `${redact(JSON.stringify(value, jsonReplacer))}\n`)
}

/** Print human text on stdout. */
export function print(text: string): void {
  write(process.stdout, `${redact(text)}\n`)
}

/** Print a log line on stderr. */
export function log(text: string): void {
  write(process.stderr, `${redact(text)}\n`)
}

/** JSON.stringify replacer for canonical values: bigints as strings, bytes as base64. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64')
  if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data).toString('base64')
  }
  return value
}

/** The exit code for an error that escaped a command. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof SynclineError) {
    if (error.code === 'CANCELLED') return EXIT.cancelled
    return error.failure === 'config' ? EXIT.badConfig : EXIT.syncFailed
  }
  return EXIT.syncFailed
}

/** Not a problem syncline could name (a bug, or a database error it does not classify): worth a stack trace with --debug. */
function isUnexpected(error: unknown): boolean {
  return !(error instanceof SynclineError) || error.code === 'INTERNAL'
}

/**
 * Report an error the way the output mode asks and return its exit code.
 * Never a stack trace unless `--debug` (or `SYNCLINE_DEBUG`) asks for one;
 * an unexpected error says how to get it.
 */
export function reportError(error: unknown, opts: GlobalOptions): number {
  setDebug(opts.debug)
  const code = exitCodeFor(error)
  const message = error instanceof Error ? error.message : String(error)
  if (opts.json) {
    const body: Record<string, unknown> = { message }
    if (error instanceof SynclineError) Object.assign(body, { code: error.code, failure: error.failure })
    if (error instanceof PlanError) body.issues = error.issues
    printJson({ error: body })
  } else {
    log(`error: ${message}`)
  }
  if (isUnexpected(error)) {
    if (debug && error instanceof Error && error.stack) log(error.stack)
    else if (!debug) log('Rerun with --debug to see where this came from (and include that when reporting it).')
  }
  return code
}
