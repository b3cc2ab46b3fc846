/** The frames of the daemon's `/feed` (docs/daemon.md "Change feed"), as the client reads them. */

/** A record as the feed renders it: bigints and decimals as digit strings, bytes as base64, timestamps as text. */
export type FeedRecord = Record<string, unknown>

/** A change event (DESIGN §1.3). */
export interface FeedChange {
  type: 'create' | 'update' | 'delete'
  connection: string
  entity: string
  recordId: string
  key: FeedRecord
  /** Only on an update that changed the key: the key before it (that record is gone). */
  previousKey?: FeedRecord
  /** Absent on delete. */
  record?: FeedRecord
  changes: FeedRecord
  before?: FeedRecord
  position: string
  committedAt?: string
}

/** Every frame the feed sends. */
export type FeedFrame =
  | { type: 'snapshot'; recordId: string; key: FeedRecord; record: FeedRecord }
  | { type: 'ready'; position: string }
  | { type: 'reset' }
  | { type: 'heartbeat' }
  | { type: 'error'; code: string; message: string }
  | FeedChange

/** The record id of a key object, as the daemon forms it: `42`, or `[1,"a"]` for composite keys. */
export function recordIdOf(key: FeedRecord): string {
  const values = Object.values(key)
  return values.length === 1 ? String(values[0]) : JSON.stringify(values)
}

/**
 * Error codes after which reconnecting cannot help: the request itself is
 * wrong (fix the connection, entity or filter). `POSITION_LOST` and
 * `POSITION_INVALID` are not here: the client starts over with a snapshot.
 */
export const FATAL_CODES: ReadonlySet<string> = new Set(['PLAN_INVALID', 'CONNECTION_NOT_FOUND', 'ENTITY_NOT_FOUND', 'CAPABILITY_MISSING', 'FIELD_NOT_FOUND', 'AUTH_FAILED'])

/** Codes after which the client's position is of no use: start again with a snapshot. */
export const RESNAPSHOT_CODES: ReadonlySet<string> = new Set(['POSITION_LOST', 'POSITION_INVALID'])
