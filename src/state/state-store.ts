/**
 * The state store: watermarks, run history and per-record errors.
 *
 * Embedded SQLite by default (`state: .syncline/state.db`), PostgreSQL when
 * the plan's `state` is a `postgres://` URL. State is written only after the
 * destination has committed the rows it describes.
 */
import type { KeyValues, Value } from '../values/canonical.js'

/** Where an incremental sync has read up to: the compound `(cursor, key)` watermark. */
export interface Watermark {
  cursor: Value
  /** Key of the last row read at `cursor`; absent when the watermark was capped (re-read from `cursor`). */
  key?: KeyValues
}

/** How a run ended. `partial`: finished, but some records were rejected (within `maxErrors`). */
export type RunStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'cancelled'

/** Counts every run reports (also the `run --json` line). */
export interface RunCounts {
  read: number
  created: number
  updated: number
  deleted: number
  unchanged: number
  failed: number
  conflicts: number
}

/** One run of one sync, as kept in history. */
export interface RunRecord extends RunCounts {
  runId: string
  syncId: string
  mode: string
  status: RunStatus
  dryRun: boolean
  startedAt: string
  finishedAt?: string
  durationMs?: number
  error?: string
}

/** A record the destination rejected, with the reason. */
export interface RecordErrorEntry {
  runId: string
  syncId: string
  /** `create`, `update` or `delete`. */
  operation: 'create' | 'update' | 'delete'
  /** The record's key as a string (`42`, or a JSON array for composite keys). */
  recordId: string
  /**
   * The destination row (or key, for deletes), as JSON-safe values: key
   * fields first, then the rejected field, then the rest. As stored, long
   * values are `{ excerpt, bytes }` and at most 50 fields are kept (docs/state.md).
   */
  record: Record<string, unknown>
  /** Why it was rejected, naming the field; stored up to 2,000 characters. */
  reason: string
  at: string
}

/** Per-sync state summarised for `syncline status`. */
export interface SyncState {
  syncId: string
  watermark?: Watermark
  lastRun?: RunRecord
}

/** Storage for everything syncline must remember between runs. */
export interface StateStore {
  getWatermark(syncId: string): Promise<Watermark | undefined>
  /** Save after the destination committed; `undefined` clears it (a `--full` re-run). */
  setWatermark(syncId: string, watermark: Watermark | undefined): Promise<void>

  startRun(run: RunRecord): Promise<void>
  finishRun(run: RunRecord): Promise<void>
  /** Newest first. */
  listRuns(opts?: { syncId?: string; limit?: number }): Promise<RunRecord[]>

  addRecordErrors(entries: RecordErrorEntry[]): Promise<void>
  /** Newest first. */
  listRecordErrors(opts?: { syncId?: string; runId?: string; limit?: number }): Promise<RecordErrorEntry[]>
  /** How many record errors {@link listRecordErrors} would list without a limit (for "… and N more"). */
  countRecordErrors(opts?: { syncId?: string; runId?: string }): Promise<number>

  /** Every sync that has state, with its watermark and last run. */
  listSyncStates(): Promise<SyncState[]>

  /** Forget everything about a sync (watermark, runs, errors). */
  forgetSync(syncId: string): Promise<void>

  close(): Promise<void>
}
