/**
 * {@link TwoWayState} on the PostgreSQL state database (tables of state
 * version 6, in the store's schema).
 */
import type pg from 'pg'
import { watermarkFromRow, watermarkParams, type WatermarkRow } from './state-rows.js'
import type { Watermark } from './state-store.js'
import { baseFromRow, baseKeyId, CONFLICT_COLUMNS, conflictFromRow, conflictParams, type BaseEntry, type BaseRow, type ConflictRow, type StoredConflict, type TwoWayState } from './two-way-state.js'

/** How the PostgreSQL store runs statements (its error handling included). */
export interface PostgresStatements {
  query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>
  transaction(work: (client: pg.PoolClient) => Promise<void>): Promise<void>
}

/** Two-way state in PostgreSQL; `schema` is the quoted schema name. */
export class PostgresTwoWayState implements TwoWayState {
  constructor(
    private readonly db: PostgresStatements,
    private readonly schema: string,
  ) {}

  async getBase(syncId: string, keys: readonly Uint8Array[]): Promise<Map<string, BaseEntry>> {
    const found = new Map<string, BaseEntry>()
    if (keys.length === 0) return found
    const rows = await this.db.query<BaseRow>(`SELECT key, hash, fields, pending FROM ${this.schema}.two_way_base WHERE sync_id = $1 AND key = ANY($2::bytea[])`, [
      syncId,
      keys.map((k) => Buffer.from(k)),
    ])
    for (const row of rows) found.set(baseKeyId(row.key), baseFromRow(row))
    return found
  }

  async writeBase(syncId: string, put: readonly BaseEntry[], remove: readonly Uint8Array[]): Promise<void> {
    if (put.length === 0 && remove.length === 0) return
    await this.db.transaction(async (client) => {
      if (put.length > 0) {
        await client.query(
          `INSERT INTO ${this.schema}.two_way_base (sync_id, key, hash, fields, pending)
           SELECT $1, * FROM unnest($2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[])
           ON CONFLICT (sync_id, key) DO UPDATE SET hash = excluded.hash, fields = excluded.fields, pending = excluded.pending`,
          [syncId, put.map((e) => Buffer.from(e.key)), put.map((e) => blob(e.hash)), put.map((e) => blob(e.fields)), put.map((e) => blob(e.pending))],
        )
      }
      if (remove.length > 0) {
        await client.query(`DELETE FROM ${this.schema}.two_way_base WHERE sync_id = $1 AND key = ANY($2::bytea[])`, [syncId, remove.map((k) => Buffer.from(k))])
      }
    })
  }

  async scanBaseKeys(syncId: string, after: string | undefined, limit: number): Promise<string[]> {
    const rows =
      after === undefined
        ? await this.db.query<{ key: string }>(`SELECT encode(key, 'hex') AS key FROM ${this.schema}.two_way_base WHERE sync_id = $1 ORDER BY key LIMIT $2`, [syncId, limit])
        : await this.db.query<{ key: string }>(`SELECT encode(key, 'hex') AS key FROM ${this.schema}.two_way_base WHERE sync_id = $1 AND key > $2 ORDER BY key LIMIT $3`, [
            syncId,
            Buffer.from(after, 'hex'),
            limit,
          ])
    return rows.map((r) => r.key)
  }

  async scanBase(syncId: string, after: Uint8Array | undefined, limit: number): Promise<BaseEntry[]> {
    // bytea compares byte by byte (memcmp), the order of the key encoding.
    const rows =
      after === undefined
        ? await this.db.query<BaseRow>(`SELECT key, hash, fields, pending FROM ${this.schema}.two_way_base WHERE sync_id = $1 ORDER BY key LIMIT $2`, [syncId, limit])
        : await this.db.query<BaseRow>(`SELECT key, hash, fields, pending FROM ${this.schema}.two_way_base WHERE sync_id = $1 AND key > $2 ORDER BY key LIMIT $3`, [
            syncId,
            Buffer.from(after),
            limit,
          ])
    return rows.map(baseFromRow)
  }

  async baseSize(syncId: string): Promise<{ keys: number; bytes: number }> {
    const rows = await this.db.query<{ keys: string; bytes: string }>(
      `SELECT count(*) AS keys, coalesce(sum(length(key) + coalesce(length(hash), 0) + coalesce(length(fields), 0)), 0) AS bytes FROM ${this.schema}.two_way_base WHERE sync_id = $1`,
      [syncId],
    )
    return { keys: Number(rows[0]?.keys ?? 0), bytes: Number(rows[0]?.bytes ?? 0) }
  }

  async getDestinationWatermark(syncId: string): Promise<Watermark | undefined> {
    const rows = await this.db.query<WatermarkRow>(`SELECT cursor_value, key_values FROM ${this.schema}.two_way_watermarks WHERE sync_id = $1 AND side = 'destination'`, [syncId])
    return rows[0] === undefined ? undefined : watermarkFromRow(rows[0])
  }

  async setDestinationWatermark(syncId: string, watermark: Watermark | undefined): Promise<void> {
    if (watermark === undefined) {
      await this.db.query(`DELETE FROM ${this.schema}.two_way_watermarks WHERE sync_id = $1 AND side = 'destination'`, [syncId])
      return
    }
    await this.db.query(
      `INSERT INTO ${this.schema}.two_way_watermarks (sync_id, side, cursor_value, key_values, updated_at) VALUES ($1, 'destination', $2, $3, $4)
       ON CONFLICT (sync_id, side) DO UPDATE SET cursor_value = excluded.cursor_value, key_values = excluded.key_values, updated_at = excluded.updated_at`,
      [syncId, ...watermarkParams(watermark), new Date().toISOString()],
    )
  }

  async openConflicts(syncId: string, recordIds: readonly string[]): Promise<Map<string, StoredConflict>> {
    const found = new Map<string, StoredConflict>()
    if (recordIds.length === 0) return found
    const rows = await this.db.query<ConflictRow>(
      `SELECT ${CONFLICT_COLUMNS.join(', ')} FROM ${this.schema}.conflicts WHERE sync_id = $1 AND resolved_at IS NULL AND record_id = ANY($2::text[])`,
      [syncId, [...recordIds]],
    )
    for (const row of rows) found.set(row.record_id, conflictFromRow(row))
    return found
  }

  async saveConflicts(conflicts: readonly StoredConflict[]): Promise<void> {
    if (conflicts.length === 0) return
    const columns = CONFLICT_COLUMNS.filter((c) => c !== 'id')
    const sql = `INSERT INTO ${this.schema}.conflicts (${CONFLICT_COLUMNS.join(', ')}) VALUES (${CONFLICT_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})
      ON CONFLICT (id) DO UPDATE SET ${columns.map((c) => `${c} = excluded.${c}`).join(', ')}`
    await this.db.transaction(async (client) => {
      for (const c of conflicts) await client.query(sql, conflictParams(c))
    })
  }

  async resolveConflicts(syncId: string, recordIds: readonly string[], resolution: string, at: string): Promise<void> {
    if (recordIds.length === 0) return
    await this.db.query(`UPDATE ${this.schema}.conflicts SET resolved_at = $1, resolution = $2 WHERE sync_id = $3 AND record_id = ANY($4::text[]) AND resolved_at IS NULL`, [
      at,
      resolution,
      syncId,
      [...recordIds],
    ])
  }

  async listConflicts(opts: { syncId?: string; open?: boolean; limit?: number } = {}): Promise<StoredConflict[]> {
    const where: string[] = []
    const params: unknown[] = []
    if (opts.syncId !== undefined) {
      params.push(opts.syncId)
      where.push(`sync_id = $${params.length}`)
    }
    if (opts.open !== false) where.push('resolved_at IS NULL')
    let sql = `SELECT ${CONFLICT_COLUMNS.join(', ')} FROM ${this.schema}.conflicts${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY detected_at DESC, id`
    if (opts.limit !== undefined) {
      params.push(opts.limit)
      sql += ` LIMIT $${params.length}`
    }
    return (await this.db.query<ConflictRow>(sql, params)).map(conflictFromRow)
  }

  async getConflict(id: string): Promise<StoredConflict | undefined> {
    const rows = await this.db.query<ConflictRow>(`SELECT ${CONFLICT_COLUMNS.join(', ')} FROM ${this.schema}.conflicts WHERE id = $1`, [id])
    return rows[0] === undefined ? undefined : conflictFromRow(rows[0])
  }
}

function blob(bytes: Uint8Array | undefined): Buffer | null {
  return bytes === undefined ? null : Buffer.from(bytes)
}
