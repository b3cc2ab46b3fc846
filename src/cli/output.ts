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
  process.stdout.write(`${redact(JSON.stringify(value, jsonReplacer))}\n`)
}

/** Print human text on stdout. */
export function print(text: string): void {
  process.stdout.write(`${redact(text)}\n`)
}

/** Print a log line on stderr. */
export function log(text: string): void {
  process.stderr.write(`${redact(text)}\n`)
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

/** Report an error the way the output mode asks and return its exit code. */
export function reportError(error: unknown, opts: GlobalOptions): number {
  const code = exitCodeFor(error)
  if (opts.json) {
    const body: Record<string, unknown> = { message: error instanceof Error ? error.message : String(error) }
    if (error instanceof SynclineError) Object.assign(body, { code: error.code, failure: error.failure })
    if (error instanceof PlanError) body.issues = error.issues
    printJson({ error: body })
  } else {
    const message = error instanceof Error ? error.message : String(error)
    log(`error: ${message}`)
    if (!(error instanceof SynclineError) && error instanceof Error && error.stack && process.env.SYNCLINE_DEBUG) log(error.stack)
  }
  return code
}
