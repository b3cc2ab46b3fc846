/**
 * The feed's replay log (docs/daemon.md "Change feed", Decisions): one
 * SQLite file (`feed-replay.db` beside a SQLite state store, else
 * `.syncline/feed-replay.db` beside the plan) holding, per captured
 * (connection, entity):
 *
 * - `feed_capture`: the shared watch's position (where a restarted serve
 *   resumes the capture), the log's id (in every position handed to
 *   clients) and the last sequence number;
 * - `feed_event`: every change event recorded, numbered 1, 2, 3… and kept
 *   for the replay window (pruned by the time it was recorded);
 * - `feed_row`: the entity's rows as of the last event: a materialized view
 *   that snapshots are read from, so a snapshot and the events after it
 *   meet at a sequence number exactly (no gap, no duplicate).
 *
 * An event, its row change and the capture's position are written in one
 * transaction, so after a crash the capture resumes right after the last
 * event the log holds. WAL mode: a snapshot reads its own connection's
 * consistent view while the capture keeps appending.
 */
import Database from 'better-sqlite3'
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { ChangeEvent } from '../engine/change-event.js'
import { decodeStateValue, encodeStateValue } from '../state/serialize-value.js'
import type { Row } from '../values/canonical.js'

/** One (connection, entity) as the log keeps it. */
export interface CaptureRecord {
  id: number
  /** `feed_` and 8 hex digits: positions of another log (an earlier capture) are not this one's. */
  logId: string
  /** The shared watch's position after the last recorded event; absent until its snapshot is complete. */
  watchPosition: string | undefined
  /** Sequence number of the last event (0: none since the snapshot). */
  seq: number
  /** Events up to this sequence number were pruned: `since` before it cannot be served. */
  prunedThrough: number
}

/** A recorded event and its sequence number; `event.position` is not stored (positions come from the sequence). */
export interface LoggedEvent {
  seq: number
  event: ChangeEvent
  /** The event rendered for clients without a filter, made once for all of them. */
  frame?: string
}

/** What an event does to the materialized rows. */
export interface RowChange {
  remove?: string[]
  upsert?: { recordId: string; record: Row }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS feed_capture (
  id INTEGER PRIMARY KEY, connection TEXT NOT NULL, entity TEXT NOT NULL, log_id TEXT NOT NULL,
  watch_position TEXT, seq INTEGER NOT NULL DEFAULT 0, pruned_through INTEGER NOT NULL DEFAULT 0,
  UNIQUE (connection, entity));
CREATE TABLE IF NOT EXISTS feed_event (
  capture_id INTEGER NOT NULL, seq INTEGER NOT NULL, recorded_at INTEGER NOT NULL, event TEXT NOT NULL,
  PRIMARY KEY (capture_id, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS feed_event_time ON feed_event (capture_id, recorded_at);
CREATE TABLE IF NOT EXISTS feed_row (
  capture_id INTEGER NOT NULL, record_id TEXT NOT NULL, record TEXT NOT NULL,
  UNIQUE (capture_id, record_id));
`

interface CaptureRow {
  id: number
  log_id: string
  watch_position: string | null
  seq: number
  pruned_through: number
}

/** Rows read per page of a snapshot. */
const SNAPSHOT_PAGE = 500

/** The replay log file; every method is synchronous (better-sqlite3) and runs on the daemon's one thread. */
export class ReplayLog {
  private readonly db: Database.Database
  /** Statements of the hot path, prepared once. */
  private readonly statements: Record<'insertEvent' | 'deleteRow' | 'upsertRow' | 'advance', Database.Statement>

  private constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true })
    this.db = new Database(path)
    this.db.pragma('journal_mode = WAL')
    // A commit survives the process crashing (the OS has it); a power loss may take the last ones, which the source then sends again.
    this.db.pragma('synchronous = NORMAL')
    this.db.exec(SCHEMA)
    this.statements = {
      insertEvent: this.db.prepare('INSERT INTO feed_event (capture_id, seq, recorded_at, event) VALUES (?, ?, ?, ?)'),
      deleteRow: this.db.prepare('DELETE FROM feed_row WHERE capture_id = ? AND record_id = ?'),
      upsertRow: this.db.prepare(
        'INSERT INTO feed_row (capture_id, record_id, record) VALUES (?, ?, ?) ON CONFLICT (capture_id, record_id) DO UPDATE SET record = excluded.record',
      ),
      advance: this.db.prepare('UPDATE feed_capture SET seq = ?, watch_position = ? WHERE id = ?'),
    }
  }

  static open(path: string): ReplayLog {
    return new ReplayLog(path)
  }

  /** What the log keeps of a capture, if it ever ran. */
  capture(connection: string, entity: string): CaptureRecord | undefined {
    const row = this.db.prepare('SELECT id, log_id, watch_position, seq, pruned_through FROM feed_capture WHERE connection = ? AND entity = ?').get(connection, entity) as
      | CaptureRow
      | undefined
    return row === undefined ? undefined : toRecord(row)
  }

  /** A new log for the capture (a fresh snapshot follows): earlier events and rows are gone, so are earlier positions. */
  startCapture(connection: string, entity: string): CaptureRecord {
    const logId = `feed_${randomBytes(4).toString('hex')}`
    return this.db.transaction(() => {
      const old = this.capture(connection, entity)
      if (old !== undefined) {
        this.db.prepare('DELETE FROM feed_event WHERE capture_id = ?').run(old.id)
        this.db.prepare('DELETE FROM feed_row WHERE capture_id = ?').run(old.id)
        this.db.prepare('UPDATE feed_capture SET log_id = ?, watch_position = NULL, seq = 0, pruned_through = 0 WHERE id = ?').run(logId, old.id)
        return { id: old.id, logId, watchPosition: undefined, seq: 0, prunedThrough: 0 }
      }
      const info = this.db.prepare('INSERT INTO feed_capture (connection, entity, log_id) VALUES (?, ?, ?)').run(connection, entity, logId)
      return { id: Number(info.lastInsertRowid), logId, watchPosition: undefined, seq: 0, prunedThrough: 0 }
    })()
  }

  /** Rows of the capture's first snapshot, in the order the source read them. */
  addSnapshotRows(captureId: number, rows: { recordId: string; record: Row }[]): void {
    const insert = this.db.prepare('INSERT OR REPLACE INTO feed_row (capture_id, record_id, record) VALUES (?, ?, ?)')
    this.db.transaction(() => {
      for (const row of rows) insert.run(captureId, row.recordId, encodeStateValue(row.record))
    })()
  }

  /** Where the shared watch is (its snapshot complete, or it moved on). */
  savePosition(captureId: number, watchPosition: string): void {
    this.db.prepare('UPDATE feed_capture SET watch_position = ? WHERE id = ?').run(watchPosition, captureId)
  }

  /** Record one event, its row change and the watch's position after it, in one transaction. */
  append(captureId: number, seq: number, event: ChangeEvent, rows: RowChange, recordedAt: number): void {
    const { position, ...stored } = event
    const { insertEvent, deleteRow, upsertRow, advance } = this.statements
    this.db.transaction(() => {
      insertEvent.run(captureId, seq, recordedAt, encodeStateValue(stored))
      for (const recordId of rows.remove ?? []) deleteRow.run(captureId, recordId)
      if (rows.upsert !== undefined) upsertRow.run(captureId, rows.upsert.recordId, encodeStateValue(rows.upsert.record))
      advance.run(seq, position, captureId)
    })()
  }

  /** Up to `limit` events after `seq`, oldest first (`position` left for the caller to set). */
  eventsAfter(captureId: number, seq: number, limit: number): LoggedEvent[] {
    const rows = this.db.prepare('SELECT seq, event FROM feed_event WHERE capture_id = ? AND seq > ? ORDER BY seq LIMIT ?').all(captureId, seq, limit) as { seq: number; event: string }[]
    return rows.map((row) => ({ seq: row.seq, event: { ...(decodeStateValue(row.event) as ChangeEvent), position: '' } }))
  }

  /** Drop the events recorded before `before` (ms); returns the sequence number pruned through. */
  prune(captureId: number, before: number): number {
    return this.db.transaction(() => {
      const last = this.db.prepare('SELECT max(seq) AS seq FROM feed_event WHERE capture_id = ? AND recorded_at < ?').get(captureId, before) as { seq: number | null }
      const current = (this.db.prepare('SELECT pruned_through FROM feed_capture WHERE id = ?').get(captureId) as { pruned_through: number }).pruned_through
      if (last.seq === null || last.seq <= current) return current
      this.db.prepare('DELETE FROM feed_event WHERE capture_id = ? AND seq <= ?').run(captureId, last.seq)
      this.db.prepare('UPDATE feed_capture SET pruned_through = ? WHERE id = ?').run(last.seq, captureId)
      return last.seq
    })()
  }

  /** Events the log holds for the capture. */
  eventCount(captureId: number): number {
    return (this.db.prepare('SELECT count(*) AS n FROM feed_event WHERE capture_id = ?').get(captureId) as { n: number }).n
  }

  /**
   * The capture's rows as of one sequence number, in pages, on a read
   * connection of its own whose transaction sees none of the events
   * appended meanwhile. `seq` is known before the first page is read.
   */
  openSnapshot(captureId: number): { seq: number; pages: Generator<{ recordId: string; record: Row }[]>; close(): void } {
    const reader = new Database(this.path, { readonly: true })
    let open = true
    const close = () => {
      if (!open) return
      open = false
      if (reader.inTransaction) reader.exec('COMMIT')
      reader.close()
    }
    try {
      reader.exec('BEGIN')
      const seq = (reader.prepare('SELECT seq FROM feed_capture WHERE id = ?').get(captureId) as { seq: number }).seq
      const page = reader.prepare('SELECT rowid, record_id, record FROM feed_row WHERE capture_id = ? AND rowid > ? ORDER BY rowid LIMIT ?')
      function* pages(): Generator<{ recordId: string; record: Row }[]> {
        let after = 0
        for (;;) {
          if (!open) return
          const rows = page.all(captureId, after, SNAPSHOT_PAGE) as { rowid: number; record_id: string; record: string }[]
          if (rows.length === 0) return
          after = rows[rows.length - 1]!.rowid
          yield rows.map((r) => ({ recordId: r.record_id, record: decodeStateValue(r.record) as Row }))
        }
      }
      return { seq, pages: pages(), close }
    } catch (error) {
      close()
      throw error
    }
  }

  close(): void {
    if (this.db.open) this.db.close()
  }
}

function toRecord(row: CaptureRow): CaptureRecord {
  return { id: row.id, logId: row.log_id, watchPosition: row.watch_position ?? undefined, seq: row.seq, prunedThrough: row.pruned_through }
}
