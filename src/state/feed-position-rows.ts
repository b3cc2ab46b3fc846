/**
 * Conversions between `feed_positions` rows and {@link FeedPosition}, shared
 * by the SQLite and PostgreSQL state stores.
 */
import type { FeedPosition } from './state-store.js'

/** The `feed_positions` columns, in parameter order. */
export const FEED_POSITION_COLUMNS = ['sync_id', 'consumer', 'connection', 'entity', 'position', 'committed_at', 'updated_at'] as const

/** A `feed_positions` row. */
export interface FeedPositionRow {
  sync_id: string
  consumer: string
  connection: string
  entity: string
  position: string
  committed_at: string | null
  updated_at: string
}

/** Parameters for {@link FEED_POSITION_COLUMNS}. */
export function feedPositionParams(p: FeedPosition): (string | null)[] {
  return [p.syncId, p.consumer, p.connection, p.entity, p.position, p.committedAt ?? null, p.updatedAt]
}

/** A stored row as a {@link FeedPosition}. */
export function feedPositionFromRow(row: FeedPositionRow): FeedPosition {
  const position: FeedPosition = {
    syncId: row.sync_id,
    consumer: row.consumer,
    connection: row.connection,
    entity: row.entity,
    position: row.position,
    updatedAt: row.updated_at,
  }
  if (row.committed_at !== null) position.committedAt = row.committed_at
  return position
}

/**
 * The upsert's SET clause for table `table`: every column but the key; an
 * empty batch (no commit time) keeps the commit time of the last change applied.
 */
export function feedPositionUpdates(table: string): string {
  return FEED_POSITION_COLUMNS.filter((c) => c !== 'sync_id')
    .map((c) => (c === 'committed_at' ? `${c} = COALESCE(excluded.${c}, ${table}.${c})` : `${c} = excluded.${c}`))
    .join(', ')
}
