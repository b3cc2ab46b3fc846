/**
 * Positions of a PostgreSQL logical-replication feed, and the LSNs under them.
 *
 * A position says how far a consumer got, in one of two forms:
 * - `0/16B3748` (an LSN alone): every transaction whose commit record starts
 *   before this LSN is handled. Given to a transaction's last change and
 *   after its commit (the commit's end LSN), and after keepalives (the
 *   server's sent position while no transaction is open).
 * - `0/16B3700:3` (commit LSN and index): inside the transaction that
 *   commits at `0/16B3700`, its changes 0…3 are handled. Every change carries
 *   one, so a resume from the middle of a large transaction skips exactly the
 *   changes up to it.
 *
 * LSNs arrive in several spellings (`00000000/827C6B68`, `0/827C6B69`): they
 * are compared as 64-bit numbers, never as text.
 */
import { SynclineError } from '../../errors.js'

/** A parsed position: `lsn` with `index` -1 for the plain form (see the file comment). */
export interface LogicalPosition {
  lsn: bigint
  index: number
}

const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/

/**
 * An LSN as a number.
 * @example parseLsn('0/16B3748') // 23803720n
 */
export function parseLsn(text: string): bigint {
  const match = LSN.exec(text)
  if (!match) throw new TypeError(`not an LSN: ${JSON.stringify(text)}`)
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`)
}

/** An LSN in PostgreSQL's own spelling (`0/16B3748`). */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`
}

/** The position's text. */
export function formatPosition(position: LogicalPosition): string {
  return position.index < 0 ? formatLsn(position.lsn) : `${formatLsn(position.lsn)}:${position.index}`
}

/**
 * Parse a position this connector gave; anything else is `POSITION_LOST`
 * (it came from another connector or was mangled), naming the consumer.
 */
export function parsePosition(text: string, consumer: string): LogicalPosition {
  const colon = text.indexOf(':')
  try {
    if (colon < 0) return { lsn: parseLsn(text), index: -1 }
    const index = text.slice(colon + 1)
    if (!/^\d{1,9}$/.test(index)) throw new TypeError('bad index')
    return { lsn: parseLsn(text.slice(0, colon)), index: Number(index) }
  } catch (cause) {
    throw new SynclineError(
      'POSITION_LOST',
      'config',
      `'${text}' is not a PostgreSQL change-feed position (consumer '${consumer}'): it came from another connection or was changed. Start the feed again without a position (a realtime sync does this by itself after 'syncline forget').`,
      { cause },
    )
  }
}

/** Negative, zero or positive as `a` is before, at or after `b`. */
export function comparePositions(a: LogicalPosition, b: LogicalPosition): number {
  if (a.lsn !== b.lsn) return a.lsn < b.lsn ? -1 : 1
  return a.index - b.index
}

/**
 * The LSN to confirm to the server once a position is handled: the server
 * then skips every transaction whose commit record starts before it. Inside
 * a transaction that is its commit LSN itself, so the transaction comes
 * again after a reconnect and the handled changes are skipped by index.
 */
export function confirmLsn(position: LogicalPosition): bigint {
  return position.lsn
}
