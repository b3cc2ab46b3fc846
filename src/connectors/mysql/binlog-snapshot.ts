/**
 * The snapshot a feed opened without `from` starts with: a consistent
 * InnoDB read and the binlog position that matches it exactly.
 *
 * MariaDB: `START TRANSACTION WITH CONSISTENT SNAPSHOT` fixes the read
 * view and the binlog position together (the status variables
 * `Binlog_snapshot_file` / `Binlog_snapshot_position` of the session are
 * the position of the last transaction the read view contains), so every
 * row change is either in the snapshot or after the position, never both
 * and never neither.
 *
 * MySQL has no such variables. The fallback reads the binlog position
 * before starting the snapshot: a transaction that commits between the two
 * statements is in the snapshot and is also streamed again after the
 * position. Streamed changes carry whole rows and are applied as
 * idempotent upserts and deletes, so the destination ends the same
 * (at-least-once, as after any crash), only some changes come twice.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise'
import type { Row } from '../../values/canonical.js'
import type { ScanOptions } from '../connector.js'
import type { BinlogPosition } from './binlog-position.js'
import type { MyTable } from './introspect.js'
import { holdConnection, type HeldConnection } from './pool.js'
import type { ServerInfo } from './server.js'
import { endRowStream, openRowStream, rowDecoder, scanQuery, type BatchStream } from './source.js'

/** A consistent read held open on its own connection. */
export interface SnapshotSession {
  /** Where the stream continues after the snapshot. */
  position: BinlogPosition
  /** The rows as of `position`, in key order, decoded as `scan` decodes them. */
  scan(table: MyTable, opts: Omit<ScanOptions, 'cursor' | 'after'>): AsyncGenerator<Row[]>
  /** End the read (idempotent). */
  release(): Promise<void>
}

/** The server's current binlog file and offset (`SHOW MASTER STATUS`, renamed `SHOW BINARY LOG STATUS` in MySQL 8.2). */
export async function binlogEnd(db: Pick<Pool, 'query'>): Promise<{ file: string; offset: number }> {
  let rows: RowDataPacket[]
  try {
    ;[rows] = await db.query<RowDataPacket[]>('SHOW MASTER STATUS')
  } catch {
    ;[rows] = await db.query<RowDataPacket[]>('SHOW BINARY LOG STATUS')
  }
  const row = rows[0]
  if (!row) throw new Error('SHOW MASTER STATUS returned nothing: log_bin is off')
  return { file: String(row.File), offset: Number(row.Position) }
}

/** Start a consistent snapshot and read the binlog position it matches. */
export async function beginSnapshot(pool: Pool, server: ServerInfo): Promise<SnapshotSession> {
  const held = await holdConnection(pool)
  let released = false
  try {
    let position: BinlogPosition
    if (server.flavor === 'MariaDB') {
      await held.connection.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY')
      const [rows] = await held.connection.query<RowDataPacket[]>("SHOW SESSION STATUS WHERE Variable_name IN ('Binlog_snapshot_file', 'Binlog_snapshot_position')")
      const value = (name: string) => rows.find((r) => String(r.Variable_name).toLowerCase() === name)?.Value
      position = { file: String(value('binlog_snapshot_file')), offset: Number(value('binlog_snapshot_position')), seen: 0 }
    } else {
      const end = await binlogEnd(held.connection)
      await held.connection.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY')
      position = { ...end, seen: 0 }
    }
    const release = async (broken = false) => {
      if (released) return
      released = true
      if (!broken) await held.connection.query('COMMIT').catch(() => (broken = true))
      held.release(broken)
    }
    return { position, scan: (table, opts) => snapshotScan(held, table, opts, release), release: () => release() }
  } catch (error) {
    held.release(true)
    throw error
  }
}

async function* snapshotScan(held: HeldConnection, table: MyTable, opts: Omit<ScanOptions, 'cursor' | 'after'>, release: (broken?: boolean) => Promise<void>): AsyncGenerator<Row[]> {
  const { sql, params, names } = scanQuery(table, opts)
  const decode = rowDecoder(table, names, opts.keys)
  let stream: BatchStream | undefined
  let finished = false
  try {
    stream = await openRowStream(held, sql, params, Math.max(1, Math.floor(opts.batchSize)))
    for (;;) {
      const rows = await stream.next()
      if (!rows) break
      yield decode(rows)
    }
    await endRowStream(held, params)
    finished = true
  } finally {
    // The snapshot is read once; an unfinished result set can only be stopped by closing its connection.
    await release(!finished)
  }
}
