/**
 * Positions of PostgreSQL's trigger change log: `trg:POS` (after all of
 * numbered transaction POS) or `trg:POS:SEQ` (within transaction POS, after
 * change SEQ). Opaque to everyone else; the `trg:` prefix tells them apart
 * from logical replication's LSNs, so a position of the other capture
 * method is refused with a clear message instead of misread.
 */
import { SynclineError } from '../../errors.js'
import type { Position } from '../change-feed.js'
import { WHOLE_TRANSACTION } from './change-log-sql.js'

/** A change-log position: numbered transaction, then change sequence (both as decimal text, int8 range). */
export interface LogPosition {
  pos: string
  seq: string
}

const POSITION = /^trg:(\d{1,19})(?::(\d{1,19}))?$/

/**
 * Read a position string; throws POSITION_LOST naming the fix when it is
 * not one this capture method made.
 * @example parseLogPosition('trg:42:1057') // { pos: '42', seq: '1057' }
 */
export function parseLogPosition(position: Position, where: string): LogPosition {
  const match = POSITION.exec(position)
  if (!match) {
    throw new SynclineError(
      'POSITION_LOST',
      'config',
      `${where}: '${position}' is not a position of trigger-based capture (cdc: triggers); it may come from logical replication. Start the feed afresh (without a position) to read a new snapshot.`,
    )
  }
  return { pos: match[1]!, seq: match[2] ?? WHOLE_TRANSACTION }
}

/** The string form of a position. */
export function formatLogPosition(position: LogPosition): Position {
  return position.seq === WHOLE_TRANSACTION ? `trg:${position.pos}` : `trg:${position.pos}:${position.seq}`
}

/** Order of two positions (negative, zero, positive), exact for int8 values. */
export function compareLogPositions(a: LogPosition, b: LogPosition): number {
  const pos = BigInt(a.pos) - BigInt(b.pos)
  if (pos !== 0n) return pos < 0n ? -1 : 1
  const seq = BigInt(a.seq) - BigInt(b.seq)
  return seq === 0n ? 0 : seq < 0n ? -1 : 1
}
