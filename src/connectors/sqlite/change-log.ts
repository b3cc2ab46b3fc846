/**
 * The change log inside a SQLite file: the tables the capture triggers write
 * to and consumers read from, and the bookkeeping of consumers (acknowledged
 * positions, pruning, dropping).
 *
 * - `_syncline_changes`: one row per row change, `seq` in commit order
 *   (SQLite has one writer at a time, so a transaction's rows get
 *   consecutive numbers and a reader never sees a gap fill in later).
 *   AUTOINCREMENT keeps numbers from being reused after pruning.
 * - `_syncline_consumers`: per consumer and entity, the position it
 *   acknowledged last. Rows up to the lowest acknowledged position of an
 *   entity's consumers are pruned.
 * - `_syncline_captured`: per captured table, what its triggers encode and
 *   up to where its rows were pruned (a position before that is lost).
 *
 * Every function that writes runs inside the caller's `BEGIN IMMEDIATE`
 * transaction (see {@link writeTransaction}).
 */
import type Database from 'better-sqlite3'
import type { ChangeFeedStatus } from '../change-feed.js'

/** The table of row changes. */
export const CHANGES_TABLE = '_syncline_changes'
/** The table of consumer positions. */
export const CONSUMERS_TABLE = '_syncline_consumers'
/** The table of captured tables. */
export const CAPTURED_TABLE = '_syncline_captured'

/** Every table the change log creates, for docs and `check`. */
export const CHANGE_LOG_TABLES = [CHANGES_TABLE, CONSUMERS_TABLE, CAPTURED_TABLE] as const

// `now` has millisecond resolution in SQLite; the stored text is canonical (six fraction digits, Z).
const NOW = `strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')`

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ${CHANGES_TABLE} (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  entity TEXT NOT NULL,
  op TEXT NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
  new_row TEXT,
  old_row TEXT,
  committed_at TEXT NOT NULL DEFAULT (${NOW})
);
CREATE INDEX IF NOT EXISTS ${CHANGES_TABLE}_entity ON ${CHANGES_TABLE} (entity, seq);
CREATE TABLE IF NOT EXISTS ${CONSUMERS_TABLE} (
  consumer TEXT NOT NULL,
  entity TEXT NOT NULL,
  acked INTEGER NOT NULL,
  created_at TEXT NOT NULL DEFAULT (${NOW}),
  updated_at TEXT NOT NULL DEFAULT (${NOW}),
  PRIMARY KEY (consumer, entity)
);
CREATE TABLE IF NOT EXISTS ${CAPTURED_TABLE} (
  entity TEXT PRIMARY KEY,
  signature TEXT NOT NULL,
  pruned_to INTEGER NOT NULL DEFAULT 0,
  installed_at TEXT NOT NULL DEFAULT (${NOW})
);`

/** Run `work` in a write transaction taken at once (`BEGIN IMMEDIATE`), so two processes installing never interleave. */
export function writeTransaction<T>(db: Database.Database, work: () => T): T {
  return db.transaction(work).immediate()
}

/** Create the change-log tables where they are missing. */
export function createChangeLog(db: Database.Database): void {
  db.exec(SCHEMA)
}

/** Whether this file has a change log. */
export function hasChangeLog(db: Database.Database): boolean {
  const found = db.prepare(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN (?, ?, ?)`).pluck().get(...CHANGE_LOG_TABLES) as bigint
  return Number(found) === CHANGE_LOG_TABLES.length
}

/** The highest sequence number the log ever gave (0 for none), pruned rows included. */
export function lastSeq(db: Database.Database): bigint {
  const seq = db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = ?`).pluck().get(CHANGES_TABLE) as bigint | undefined
  return seq ?? 0n
}

/** A captured table's record: its trigger signature and how far its rows were pruned. */
export interface CapturedTable {
  signature: string
  prunedTo: bigint
}

/** The captured table's record, if it is captured. */
export function capturedTable(db: Database.Database, entity: string): CapturedTable | undefined {
  const row = db.prepare(`SELECT signature, pruned_to FROM ${CAPTURED_TABLE} WHERE entity = ?`).get(entity) as { signature: string; pruned_to: bigint } | undefined
  return row && { signature: row.signature, prunedTo: row.pruned_to }
}

/** Record that a table's triggers now encode `signature`. */
export function recordCaptured(db: Database.Database, entity: string, signature: string): void {
  db.prepare(`INSERT INTO ${CAPTURED_TABLE} (entity, signature) VALUES (?, ?) ON CONFLICT (entity) DO UPDATE SET signature = excluded.signature, installed_at = ${NOW}`).run(entity, signature)
}

/** The position a consumer acknowledged on an entity, if it is registered there. */
export function consumerPosition(db: Database.Database, consumer: string, entity: string): bigint | undefined {
  return db.prepare(`SELECT acked FROM ${CONSUMERS_TABLE} WHERE consumer = ? AND entity = ?`).pluck().get(consumer, entity) as bigint | undefined
}

/** Register a consumer at `position`, or move it there (a feed opened without a position starts afresh). */
export function placeConsumer(db: Database.Database, consumer: string, entity: string, position: bigint): void {
  db.prepare(
    `INSERT INTO ${CONSUMERS_TABLE} (consumer, entity, acked) VALUES (?, ?, ?) ON CONFLICT (consumer, entity) DO UPDATE SET acked = excluded.acked, updated_at = ${NOW}`,
  ).run(consumer, entity, position)
}

/**
 * A consumer acknowledged `position`: keep the higher of it and what it had,
 * then prune the entity's rows no consumer needs any more. False when the
 * consumer is not registered (it was dropped).
 */
export function acknowledge(db: Database.Database, consumer: string, entity: string, position: bigint): boolean {
  const updated = db
    .prepare(`UPDATE ${CONSUMERS_TABLE} SET acked = max(acked, ?), updated_at = ${NOW} WHERE consumer = ? AND entity = ?`)
    .run(position, consumer, entity)
  if (updated.changes === 0) return false
  prune(db, entity)
  return true
}

/** Delete an entity's rows up to the lowest position its consumers acknowledged, and remember how far. */
function prune(db: Database.Database, entity: string): void {
  const lowest = db.prepare(`SELECT min(acked) FROM ${CONSUMERS_TABLE} WHERE entity = ?`).pluck().get(entity) as bigint | null
  if (lowest === null) return
  // The highest row actually deleted: a position at or after it lost nothing.
  const highest = db.prepare(`SELECT max(seq) FROM ${CHANGES_TABLE} WHERE entity = ? AND seq <= ?`).pluck().get(entity, lowest) as bigint | null
  if (highest === null) return
  db.prepare(`DELETE FROM ${CHANGES_TABLE} WHERE entity = ? AND seq <= ?`).run(entity, highest)
  db.prepare(`UPDATE ${CAPTURED_TABLE} SET pruned_to = max(pruned_to, ?) WHERE entity = ?`).run(highest, entity)
}

/**
 * Forget a consumer on every entity. Returns the entities no consumer
 * reads any more, whose rows are deleted here (the caller drops their
 * triggers).
 */
export function removeConsumer(db: Database.Database, consumer: string): string[] {
  const entities = db.prepare(`SELECT entity FROM ${CONSUMERS_TABLE} WHERE consumer = ?`).pluck().all(consumer) as string[]
  db.prepare(`DELETE FROM ${CONSUMERS_TABLE} WHERE consumer = ?`).run(consumer)
  const orphaned: string[] = []
  for (const entity of entities) {
    const left = db.prepare(`SELECT count(*) FROM ${CONSUMERS_TABLE} WHERE entity = ?`).pluck().get(entity) as bigint
    if (left > 0n) {
      prune(db, entity)
      continue
    }
    db.prepare(`DELETE FROM ${CHANGES_TABLE} WHERE entity = ?`).run(entity)
    db.prepare(`DELETE FROM ${CAPTURED_TABLE} WHERE entity = ?`).run(entity)
    orphaned.push(entity)
  }
  return orphaned
}

/** Whether any consumer is left (when none is, the change log itself can go). */
export function hasConsumers(db: Database.Database): boolean {
  return db.prepare(`SELECT 1 FROM ${CONSUMERS_TABLE} LIMIT 1`).get() !== undefined
}

/** Drop the change-log tables (no consumer is left). */
export function dropChangeLog(db: Database.Database): void {
  for (const table of CHANGE_LOG_TABLES) db.exec(`DROP TABLE IF EXISTS ${table}`)
}

/** Every consumer with its position and how many rows it has not acknowledged. */
export function consumerStatuses(db: Database.Database): Omit<ChangeFeedStatus, 'active'>[] {
  const rows = db
    .prepare(
      `SELECT k.consumer, k.entity, k.acked, (SELECT count(*) FROM ${CHANGES_TABLE} c WHERE c.entity = k.entity AND c.seq > k.acked) AS pending
       FROM ${CONSUMERS_TABLE} k ORDER BY k.consumer, k.entity`,
    )
    .all() as { consumer: string; entity: string; acked: bigint; pending: bigint }[]
  return rows.map((r) => ({ consumer: r.consumer, entity: r.entity, position: String(r.acked), pendingChanges: Number(r.pending) }))
}

/** The tables whose changes are captured now. */
export function capturedTables(db: Database.Database): string[] {
  return db.prepare(`SELECT entity FROM ${CAPTURED_TABLE} ORDER BY entity`).pluck().all() as string[]
}
