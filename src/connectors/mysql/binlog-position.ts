/**
 * Binlog positions as change-feed resume tokens, and the replication
 * server id each feed connects with.
 *
 * A position is `FILE:OFFSET` or `FILE:OFFSET:SEEN`: OFFSET is always a
 * transaction boundary in FILE (the end of a commit, where the next event
 * group begins), so a feed resumed there sees every table map again and can
 * decode the rows after it; SEEN counts the entity's changes of the
 * transaction that starts at OFFSET which the consumer already has (a
 * batch that ended inside a large transaction), and the resumed feed skips
 * exactly those. A change of the 3rd row of the transaction starting at
 * `mysql-bin.000007:1542` has position `mysql-bin.000007:1542:3`.
 */
import { createHash, randomBytes } from 'node:crypto'
import { SynclineError } from '../../errors.js'
import type { Position } from '../change-feed.js'

/** Where in the binlog a feed stands. */
export interface BinlogPosition {
  /** Binlog file name, e.g. `mysql-bin.000007`. */
  file: string
  /** Byte offset of a transaction boundary in `file` (4 is the first event). */
  offset: number
  /** The entity's changes of the transaction at `offset` already delivered (0 at a boundary). */
  seen: number
}

const POSITION = /^(.+?):(\d+)(?::(\d+))?$/

/** `mysql-bin.000007:1542` (or `…:1542:3` mid-transaction). */
export function formatPosition(position: BinlogPosition): Position {
  return position.seen > 0 ? `${position.file}:${position.offset}:${position.seen}` : `${position.file}:${position.offset}`
}

/**
 * Parse a position a MySQL feed handed out; anything else is POSITION_LOST
 * (it cannot be resumed), with the fix: start a fresh feed without `from`.
 * @example parsePosition('mysql-bin.000007:1542:3') // { file: 'mysql-bin.000007', offset: 1542, seen: 3 }
 */
export function parsePosition(position: Position, where: string): BinlogPosition {
  const match = POSITION.exec(position)
  const offset = Number(match?.[2])
  if (!match || !Number.isSafeInteger(offset) || offset < 4) {
    throw new SynclineError(
      'POSITION_LOST',
      'config',
      `${where}: '${position}' is not a binlog position of a MariaDB/MySQL change feed (expected FILE:OFFSET, e.g. mysql-bin.000007:1542). Start the feed without a position (a fresh snapshot) or pass one this connection handed out.`,
    )
  }
  return { file: match[1]!, offset, seen: Number(match[3] ?? 0) }
}

/** Per process: two processes reading for one consumer still get different server ids. */
const PROCESS_SALT = randomBytes(4).readUInt32BE(0)
let feedsOpened = 0

/**
 * The replication server id for one feed of a consumer. The server drops
 * an older binlog reader when a newer one connects with the same server id,
 * so every feed needs its own: a hash of the consumer name, this process's
 * random salt and a per-process counter, in 2..2^32-1 and never the
 * server's own `@@server_id` (nor 1, the id most servers use).
 * @example replicationServerId('sync_orders', 1) // e.g. 2874019377
 */
export function replicationServerId(consumer: string, ownServerId: number): number {
  feedsOpened += 1
  for (let attempt = 0; ; attempt++) {
    const digest = createHash('sha256').update(`${consumer}\u0000${PROCESS_SALT}\u0000${feedsOpened}\u0000${attempt}`).digest()
    const id = digest.readUInt32BE(0)
    if (id > 1 && id !== ownServerId) return id
  }
}
