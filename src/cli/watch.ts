/**
 * `syncline watch CONNECTION ENTITY [--since POSITION] [--json]`: print
 * change events as they commit, until Ctrl-C (or SIGTERM) ends it with exit
 * 0. The `watching …` line on stderr comes only once capture is active, so
 * a script may start writing when it sees it: no change after that line is
 * missed. When it stops, stderr says the position to resume from.
 *
 * Values print as everywhere on the CLI (`run --dry-run`, `history`):
 * bigints and decimals as strings of digits, bytes as base64, timestamps as
 * canonical text.
 */
import type { ChangeEvent } from '../engine/change-event.js'
import { boundedText } from '../state/record-excerpt.js'
import { withManager } from './context.js'
import { EXIT, jsonReplacer, log, print, printJson, type GlobalOptions } from './output.js'

/** Options of `syncline watch`. */
export interface WatchCommandOptions extends GlobalOptions {
  since?: string
}

/** Characters of one human event line (long values are cut, the position never). */
const CHANGES_CHARACTERS = 400

/**
 * Watch until stopped; 0 when stopped by a signal or a closed stdout (a
 * second Ctrl-C: 130 at once), the error's exit code when it fails.
 */
export async function watchCommand(connection: string, entity: string, opts: WatchCommandOptions): Promise<number> {
  return withManager(opts, async (manager) => {
    let stopping = false
    let stop: (() => void) | undefined
    const onSignal = () => {
      // A second Ctrl-C quits at once, without acknowledging what was printed since the last batch.
      if (stopping) process.exit(EXIT.cancelled)
      stopping = true
      stop?.()
    }
    // `syncline watch … | head -n 1`: the reader is gone; stop quietly at the next event.
    const onStdoutError = (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') onSignal()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    process.stdout.on('error', onStdoutError)
    try {
      const watch = manager.watch(connection, entity, (event) => (opts.json ? printJson(event) : print(describeEvent(event))), {
        ...(opts.since === undefined ? {} : { since: opts.since }),
      })
      stop = () => void watch().catch(() => undefined)
      if (stopping) stop()
      try {
        await watch.ready
        log(`watching ${connection} ${entity}`)
      } catch {
        // Stopped before it started, or failed: `done` says which.
      }
      await watch.done
      if (watch.position !== undefined) log(`stopped; resume with: syncline watch ${connection} ${entity} --since ${watch.position}`)
      return EXIT.ok
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      process.stdout.off('error', onStdoutError)
    }
  })
}

/** `2026-11-21T10:00:00.123456Z update 42 Email="b@x.org" position watch_3f2a9c1d.MC8x…` */
function describeEvent(event: ChangeEvent): string {
  const fields = Object.entries(event.changes).map(([name, value]) => `${name}=${JSON.stringify(value, jsonReplacer)}`)
  const parts = [event.committedAt, event.type, event.recordId]
  if (event.previousKey !== undefined) parts.push(`(was ${JSON.stringify(event.previousKey, jsonReplacer)})`)
  if (fields.length > 0) parts.push(boundedText(fields.join(' '), CHANGES_CHARACTERS))
  parts.push(`position ${event.position}`)
  return parts.filter((p) => p !== undefined).join(' ')
}
