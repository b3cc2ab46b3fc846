/**
 * {@link TwoWayState} on the embedded SQLite state file (tables of state
 * version 6). Writes take the write lock up front, like the rest of the store.
 */
import type Database from 'better-sqlite3'
import { watermarkFromRow, watermarkParams, type WatermarkRow } from './state-rows.js'
import type { Watermark } from './state-store.js'
import { baseFromRow, baseKeyId, CONFLICT_COLUMNS, conflictFromRow, conflictParams, type BaseEntry, type BaseRow, type ConflictRow, type StoredConflict, type TwoWayState } from './two-way-state.js'

/** SQLite limits bound parameters per statement; lookups go in chunks below it. */
const CHUNK = 500

/** Two-way state in SQLite; `use` wraps each operation with the store's error handling. */
export class SqliteTwoWayState implements TwoWayState {
  /** Prepared look-ups of full chunks: every batch repeats the same IN list. */
  private readonly statements = new Map<string, Database.Statement>()

  constructor(
    private readonly db: Database.Database,
    private readonly use: <T>(operation: () => T) => T,
  ) {}

  private statement(sql: string, cache: boolean): Database.Statement {
    if (!cache) return this.db.prepare(sql)
    let statement = this.statements.get(sql)
    if (!statement) {
      statement = this.db.prepare(sql)
      this.statements.set(sql, statement)
    }
    return statement
  }

  async getBase(syncId: string, keys: readonly Uint8Array[]): Promise<Map<string, BaseEntry>> {
    return this.use(() => {
      const found = new Map<string, BaseEntry>()
      for (let i = 0; i < keys.length; i += CHUNK) {
        const chunk = keys.slice(i, i + CHUNK).map((k) => Buffer.from(k))
        const rows = this.statement(`SELECT key, hash, fields, pending FROM two_way_base WHERE sync_id = ? AND key IN (${chunk.map(() => '?').join(', ')})`, chunk.length === CHUNK).all(syncId, ...chunk) as BaseRow[]
        for (const row of rows) found.set(baseKeyId(row.key), baseFromRow(row))
      }
      return found
    })
  }

  async writeBase(syncId: string, put: readonly BaseEntry[], remove: readonly Uint8Array[]): Promise<void> {
    if (put.length === 0 && remove.length === 0) return
    this.use(() => {
      const upsert = this.db.prepare(
        `INSERT INTO two_way_base (sync_id, key, hash, fields, pending) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (sync_id, key) DO UPDATE SET hash = excluded.hash, fields = excluded.fields, pending = excluded.pending`,
      )
      const drop = this.db.prepare('DELETE FROM two_way_base WHERE sync_id = ? AND key = ?')
      this.db
        .transaction(() => {
          for (const e of put) upsert.run(syncId, Buffer.from(e.key), blob(e.hash), blob(e.fields), blob(e.pending))
          for (const key of remove) drop.run(syncId, Buffer.from(key))
        })
        .immediate()
    })
  }

  async scanBaseKeys(syncId: string, after: string | undefined, limit: number): Promise<string[]> {
    return this.use(() => {
      // pluck: one string per row, no row objects (every key of the table passes here).
      const keys =
        after === undefined
          ? this.statement('SELECT lower(hex(key)) FROM two_way_base WHERE sync_id = ? ORDER BY key LIMIT ?', true).pluck().all(syncId, limit)
          : this.statement('SELECT lower(hex(key)) FROM two_way_base WHERE sync_id = ? AND key > ? ORDER BY key LIMIT ?', true).pluck().all(syncId, Buffer.from(after, 'hex'), limit)
      return keys as string[]
    })
  }

  async scanBase(syncId: string, after: Uint8Array | undefined, limit: number): Promise<BaseEntry[]> {
    return this.use(() => {
      const rows = (
        after === undefined
          ? this.db.prepare('SELECT key, hash, fields, pending FROM two_way_base WHERE sync_id = ? ORDER BY key LIMIT ?').all(syncId, limit)
          : this.db.prepare('SELECT key, hash, fields, pending FROM two_way_base WHERE sync_id = ? AND key > ? ORDER BY key LIMIT ?').all(syncId, Buffer.from(after), limit)
      ) as BaseRow[]
      return rows.map(baseFromRow)
    })
  }

  async baseSize(syncId: string): Promise<{ keys: number; bytes: number }> {
    return this.use(() => {
      const row = this.db
        .prepare('SELECT count(*) AS keys, coalesce(sum(length(key) + coalesce(length(hash), 0) + coalesce(length(fields), 0)), 0) AS bytes FROM two_way_base WHERE sync_id = ?')
        .get(syncId) as { keys: number; bytes: number }
      return { keys: Number(row.keys), bytes: Number(row.bytes) }
    })
  }

  async getDestinationWatermark(syncId: string): Promise<Watermark | undefined> {
    return this.use(() => {
      const row = this.db.prepare("SELECT cursor_value, key_values FROM two_way_watermarks WHERE sync_id = ? AND side = 'destination'").get(syncId) as WatermarkRow | undefined
      return row === undefined ? undefined : watermarkFromRow(row)
    })
  }

  async setDestinationWatermark(syncId: string, watermark: Watermark | undefined): Promise<void> {
    this.use(() => {
      if (watermark === undefined) {
        this.db.prepare("DELETE FROM two_way_watermarks WHERE sync_id = ? AND side = 'destination'").run(syncId)
        return
      }
      this.db
        .prepare(
          `INSERT INTO two_way_watermarks (sync_id, side, cursor_value, key_values, updated_at) VALUES (?, 'destination', ?, ?, ?)
           ON CONFLICT (sync_id, side) DO UPDATE SET cursor_value = excluded.cursor_value, key_values = excluded.key_values, updated_at = excluded.updated_at`,
        )
        .run(syncId, ...watermarkParams(watermark), new Date().toISOString())
    })
  }

  async openConflicts(syncId: string, recordIds: readonly string[]): Promise<Map<string, StoredConflict>> {
    return this.use(() => {
      const found = new Map<string, StoredConflict>()
      for (let i = 0; i < recordIds.length; i += CHUNK) {
        const chunk = recordIds.slice(i, i + CHUNK)
        const rows = this.db
          .prepare(`SELECT ${CONFLICT_COLUMNS.join(', ')} FROM conflicts WHERE sync_id = ? AND resolved_at IS NULL AND record_id IN (${chunk.map(() => '?').join(', ')})`)
          .all(syncId, ...chunk) as ConflictRow[]
        for (const row of rows) found.set(row.record_id, conflictFromRow(row))
      }
      return found
    })
  }

  async saveConflicts(conflicts: readonly StoredConflict[]): Promise<void> {
    if (conflicts.length === 0) return
    this.use(() => {
      const columns = CONFLICT_COLUMNS.filter((c) => c !== 'id')
      const save = this.db.prepare(
        `INSERT INTO conflicts (${CONFLICT_COLUMNS.join(', ')}) VALUES (${CONFLICT_COLUMNS.map(() => '?').join(', ')})
         ON CONFLICT (id) DO UPDATE SET ${columns.map((c) => `${c} = excluded.${c}`).join(', ')}`,
      )
      this.db.transaction(() => conflicts.forEach((c) => save.run(conflictParams(c)))).immediate()
    })
  }

  async resolveConflicts(syncId: string, recordIds: readonly string[], resolution: string, at: string): Promise<void> {
    if (recordIds.length === 0) return
    this.use(() => {
      const resolve = this.db.prepare('UPDATE conflicts SET resolved_at = ?, resolution = ? WHERE sync_id = ? AND record_id = ? AND resolved_at IS NULL')
      this.db.transaction(() => recordIds.forEach((id) => resolve.run(at, resolution, syncId, id))).immediate()
    })
  }

  async listConflicts(opts: { syncId?: string; open?: boolean; limit?: number } = {}): Promise<StoredConflict[]> {
    return this.use(() => {
      const where: string[] = []
      const params: (string | number)[] = []
      if (opts.syncId !== undefined) {
        where.push('sync_id = ?')
        params.push(opts.syncId)
      }
      if (opts.open !== false) where.push('resolved_at IS NULL')
      let sql = `SELECT ${CONFLICT_COLUMNS.join(', ')} FROM conflicts${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY detected_at DESC, id`
      if (opts.limit !== undefined) {
        sql += ' LIMIT ?'
        params.push(opts.limit)
      }
      return (this.db.prepare(sql).all(...params) as ConflictRow[]).map(conflictFromRow)
    })
  }

  async getConflict(id: string): Promise<StoredConflict | undefined> {
    return this.use(() => {
      const row = this.db.prepare(`SELECT ${CONFLICT_COLUMNS.join(', ')} FROM conflicts WHERE id = ?`).get(id) as ConflictRow | undefined
      return row === undefined ? undefined : conflictFromRow(row)
    })
  }
}

function blob(bytes: Uint8Array | undefined): Buffer | null {
  return bytes === undefined ? null : Buffer.from(bytes)
}
