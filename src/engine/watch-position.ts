/**
 * The positions a watch hands to users (DESIGN §1.3 `position`): opaque
 * strings that carry the watch's consumer name beside the connector's own
 * position, so `since` reopens that very consumer where the user left off,
 * with the changes committed while no watch ran still waiting in it.
 *
 * Spelling: `<consumer>.<connector position as base64url>`, e.g.
 * `watch_3f2a9c1d.MC8xNkIzNzQ4`. Consumer names are `[a-z0-9_]`, so the
 * first dot separates them; base64url keeps the whole thing safe in a shell
 * argument and a URL without quoting.
 */
import { randomBytes } from 'node:crypto'
import type { Position } from '../connectors/change-feed.js'
import { SynclineError } from '../errors.js'

/** Watch consumers are `watch_` and a name part, at most 40 characters (the change-feed contract's limit). */
const WATCH_CONSUMER = /^watch_[a-z0-9_]{1,34}$/
const BASE64URL = /^[A-Za-z0-9_-]+$/

/** A consumer name for a new watch: `watch_` and 8 random hex digits. */
export function newWatchConsumer(): string {
  return `watch_${randomBytes(4).toString('hex')}`
}

/**
 * The position a user sees for a connector position of a watch's consumer.
 * @example encodeWatchPosition('watch_3f2a9c1d', '0/16B3748') // 'watch_3f2a9c1d.MC8xNkIzNzQ4'
 */
export function encodeWatchPosition(consumer: string, position: Position): string {
  return `${consumer}.${Buffer.from(position, 'utf8').toString('base64url')}`
}

/**
 * The consumer and connector position inside a position a watch handed
 * out. Throws `POSITION_INVALID` (a usage error) for anything else, such as
 * a position cut short by copying or one of a realtime sync's consumers
 * (resuming those from a watch would take changes away from the sync).
 */
export function decodeWatchPosition(text: string): { consumer: string; position: Position } {
  const dot = text.indexOf('.')
  const consumer = dot < 0 ? '' : text.slice(0, dot)
  const encoded = dot < 0 ? '' : text.slice(dot + 1)
  const decoded = BASE64URL.test(encoded) ? Buffer.from(encoded, 'base64url') : undefined
  // Buffer.from skips what is not base64url, so compare the round trip: a cut or edited position differs.
  if (!WATCH_CONSUMER.test(consumer) || decoded === undefined || decoded.toString('base64url') !== encoded) {
    throw new SynclineError(
      'POSITION_INVALID',
      'config',
      `'${shorten(text)}' is not a position a watch handed out (those look like watch_3f2a9c1d.MC8xNkIzNzQ4). Copy the whole position of the last event you handled, or start without --since / since to watch from now.`,
    )
  }
  return { consumer, position: decoded.toString('utf8') }
}

function shorten(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}
