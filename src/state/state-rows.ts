/**
 * Conversions between the state tables' rows and the {@link StateStore}
 * types, shared by the SQLite and PostgreSQL stores (their columns are the
 * same; only the drivers' number and boolean types differ).
 */
import type { KeyValues, Value } from '../values/canonical.js'
import { SynclineError } from '../errors.js'
import { boundedRecord, boundedText } from './record-excerpt.js'
import { decodeStateValue, encodeStateValue, toReadableJson } from './serialize-value.js'
import type { RecordErrorEntry, RunLock, RunRecord, RunStatus, SyncFacts, SyncState, WatchConsumer, WatchResume, Watermark } from './state-store.js'

/** The `runs` columns written by `startRun` / `finishRun`, in parameter order. */
export const RUN_COLUMNS = [
  'run_id',
  'sync_id',
  'mode',
  'status',
  'dry_run',
  'started_at',
  'finished_at',
  'duration_ms',
  'read',
  'created',
  'updated',
  'deleted',
  'unchanged',
  'failed',
  'conflicts',
  'error',
  'notes',
  'attempt',
  'error_code',
] as const

/** The `record_errors` columns written by `addRecordErrors`, in parameter order. */
export const RECORD_ERROR_COLUMNS = ['run_id', 'sync_id', 'operation', 'record_id', 'record', 'reason', 'at'] as const

/** The `run_locks` columns, in parameter order. */
export const RUN_LOCK_COLUMNS = ['sync_id', 'run_id', 'pid', 'host', 'acquired_at', 'heartbeat_at'] as const

/** The `watch_consumers` columns, in parameter order. */
export const WATCH_CONSUMER_COLUMNS = ['connection', 'consumer', 'entity', 'released_at', 'resume_delivered', 'resume_acknowledged', 'resume_filters'] as const

/** A `watch_consumers` row. */
export interface WatchConsumerRow {
  connection: string
  consumer: string
  entity: string
  released_at: string | null
  resume_delivered: string | null
  resume_acknowledged: string | null
  resume_filters: string | null
}

/** A stored watch consumer as a {@link WatchConsumer}. */
export function watchConsumerFromRow(row: WatchConsumerRow): WatchConsumer {
  const consumer: WatchConsumer = { connection: row.connection, consumer: row.consumer, entity: row.entity }
  if (row.released_at !== null) consumer.releasedAt = row.released_at
  if (row.resume_delivered !== null && row.resume_acknowledged !== null) {
    consumer.resume = { delivered: row.resume_delivered, acknowledged: row.resume_acknowledged }
    if (row.resume_filters !== null) consumer.resume.filters = row.resume_filters
  }
  return consumer
}

/** Parameters of the `resume_*` columns for a {@link WatchResume}, in column order. */
export function watchResumeParams(resume: WatchResume): (string | null)[] {
  return [resume.delivered, resume.acknowledged, resume.filters ?? null]
}

/** A `run_locks` row. */
export interface RunLockRow {
  sync_id: string
  run_id: string
  pid: number | string
  host: string
  acquired_at: string
  heartbeat_at: string
}

/** Parameters for {@link RUN_LOCK_COLUMNS}. */
export function runLockParams(lock: RunLock): (string | number)[] {
  return [lock.syncId, lock.runId, lock.pid, lock.host, lock.acquiredAt, lock.heartbeatAt]
}

/** A stored lock as a {@link RunLock}. */
export function runLockFromRow(row: RunLockRow): RunLock {
  return { syncId: row.sync_id, runId: row.run_id, pid: Number(row.pid), host: row.host, acquiredAt: row.acquired_at, heartbeatAt: row.heartbeat_at }
}

/** A `runs` row as either driver returns it (PostgreSQL bigints arrive as strings). */
export interface RunRow {
  run_id: string
  sync_id: string
  mode: string
  status: string
  dry_run: number | boolean
  started_at: string
  finished_at: string | null
  duration_ms: number | string | null
  read: number | string
  created: number | string
  updated: number | string
  deleted: number | string
  unchanged: number | string
  failed: number | string
  conflicts: number | string
  error: string | null
  /** A JSON array of strings, or null when the run had no notes. */
  notes: string | null
  attempt: number | string
  error_code: string | null
}

/** A `record_errors` row. */
export interface RecordErrorRow {
  run_id: string
  sync_id: string
  operation: string
  record_id: string
  record: string
  reason: string
  at: string
}

/** A `watermarks` row. */
export interface WatermarkRow {
  cursor_value: string
  key_values: string | null
}

/** A `listSyncStates` row: the sync id, its watermark columns and its last run's columns, each part possibly null. */
export type SyncStateRow = Omit<RunRow, 'run_id'> & {
  state_sync_id: string
  run_id: string | null
  cursor_value: string | null
  key_values: string | null
}

/** Characters of a run's error kept in history (a plan error lists every issue; a driver's may quote a value). */
const MAX_RUN_ERROR_CHARACTERS = 20_000

/** Parameters for {@link RUN_COLUMNS}; `status` overrides the run's own (startRun stores `running`). */
export function runParams(run: RunRecord, status: RunStatus = run.status): (string | number | boolean | null)[] {
  return [
    run.runId,
    run.syncId,
    run.mode,
    status,
    run.dryRun,
    run.startedAt,
    run.finishedAt ?? null,
    run.durationMs ?? null,
    count(run.read),
    count(run.created),
    count(run.updated),
    count(run.deleted),
    count(run.unchanged),
    count(run.failed),
    count(run.conflicts),
    run.error === undefined ? null : boundedText(run.error, MAX_RUN_ERROR_CHARACTERS),
    run.notes && run.notes.length > 0 ? JSON.stringify(run.notes) : null,
    run.attempt ?? 1,
    run.errorCode ?? null,
  ]
}

/** A stored run as a {@link RunRecord}; absent optional fields stay absent. */
export function runFromRow(row: RunRow): RunRecord {
  const run: RunRecord = {
    runId: row.run_id,
    syncId: row.sync_id,
    mode: row.mode,
    status: row.status as RunStatus,
    dryRun: row.dry_run === true || row.dry_run === 1,
    startedAt: row.started_at,
    read: Number(row.read),
    created: Number(row.created),
    updated: Number(row.updated),
    deleted: Number(row.deleted),
    unchanged: Number(row.unchanged),
    failed: Number(row.failed),
    conflicts: Number(row.conflicts),
  }
  if (row.finished_at !== null) run.finishedAt = row.finished_at
  if (row.duration_ms !== null) run.durationMs = Number(row.duration_ms)
  if (row.error !== null) run.error = row.error
  if (row.notes !== null && row.notes !== undefined) run.notes = JSON.parse(row.notes) as string[]
  // First attempts stay without the field, as runs recorded before retries existed.
  const attempt = Number(row.attempt ?? 1)
  if (attempt > 1) run.attempt = attempt
  if (row.error_code !== null && row.error_code !== undefined) run.errorCode = row.error_code
  return run
}

/** One {@link SyncState} from a {@link SyncStateRow}. */
export function syncStateFromRow(row: SyncStateRow): SyncState {
  const state: SyncState = { syncId: row.state_sync_id }
  if (row.cursor_value !== null) state.watermark = watermarkFromRow({ cursor_value: row.cursor_value, key_values: row.key_values })
  if (row.run_id !== null) state.lastRun = runFromRow({ ...row, run_id: row.run_id })
  return state
}

/**
 * Parameters for {@link RECORD_ERROR_COLUMNS}: the record becomes readable
 * JSON of bounded size (long values as excerpts with their size, see
 * record-excerpt.ts), the record id and the reason are bounded too.
 */
export function recordErrorParams(entry: RecordErrorEntry): string[] {
  const record = toReadableJson(boundedRecord(entry.record))
  return [entry.runId, entry.syncId, entry.operation, boundedText(entry.recordId), record, boundedText(entry.reason), entry.at]
}

/** A stored record error as a {@link RecordErrorEntry}. */
export function recordErrorFromRow(row: RecordErrorRow): RecordErrorEntry {
  return {
    runId: row.run_id,
    syncId: row.sync_id,
    operation: row.operation as RecordErrorEntry['operation'],
    recordId: row.record_id,
    record: JSON.parse(row.record) as Record<string, unknown>,
    reason: row.reason,
    at: row.at,
  }
}

/** `cursor_value` and `key_values` for a watermark. */
export function watermarkParams(watermark: Watermark): [string, string | null] {
  return [encodeStateValue(watermark.cursor), watermark.key === undefined ? null : encodeStateValue(watermark.key)]
}

/** A stored watermark, values exactly as they were saved. */
export function watermarkFromRow(row: WatermarkRow): Watermark {
  const watermark: Watermark = { cursor: decodeStateValue(row.cursor_value) as Value }
  if (row.key_values !== null) watermark.key = decodeStateValue(row.key_values) as KeyValues
  return watermark
}

/** The `sync_facts` columns written by `setSyncFacts`, in parameter order. */
export const SYNC_FACTS_COLUMNS = [
  'sync_id',
  'source_connection',
  'source_entity',
  'destination_connection',
  'destination_entity',
  'destination_rows',
  'mapped_fields',
  'source_fields',
  'updated_at',
  'destination_created',
] as const

/** A `sync_facts` row (PostgreSQL bigints arrive as strings). */
export interface SyncFactsRow {
  sync_id: string
  source_connection: string
  source_entity: string
  destination_connection: string
  destination_entity: string
  destination_rows: number | string | null
  mapped_fields: string
  source_fields: string
  updated_at: string
  destination_created: number | null
}

/** Parameters for {@link SYNC_FACTS_COLUMNS}; field lists are stored as JSON. */
export function syncFactsParams(syncId: string, facts: SyncFacts): (string | number | null)[] {
  return [
    syncId,
    facts.source.connection,
    facts.source.entity,
    facts.destination.connection,
    facts.destination.entity,
    facts.destinationRows === undefined ? null : count(facts.destinationRows),
    JSON.stringify(facts.mappedFields.map((f) => ({ source: f.source, destination: f.destination }))),
    JSON.stringify(facts.sourceFields),
    facts.updatedAt,
    facts.destinationCreated ? 1 : null,
  ]
}

/** Stored facts as {@link SyncFacts}. */
export function syncFactsFromRow(row: SyncFactsRow): SyncFacts {
  const facts: SyncFacts = {
    source: { connection: row.source_connection, entity: row.source_entity },
    destination: { connection: row.destination_connection, entity: row.destination_entity },
    mappedFields: JSON.parse(row.mapped_fields) as SyncFacts['mappedFields'],
    sourceFields: JSON.parse(row.source_fields) as string[],
    updatedAt: row.updated_at,
  }
  if (row.destination_rows !== null) facts.destinationRows = Number(row.destination_rows)
  if (row.destination_created) facts.destinationCreated = true
  return facts
}

/** A row limit as given to `listRuns` / `listRecordErrors`, checked. */
export function checkLimit(limit: number | undefined): number | undefined {
  if (limit === undefined) return undefined
  if (!Number.isInteger(limit) || limit < 0) {
    throw new SynclineError('INTERNAL', 'internal', `A state list limit must be a whole number of 0 or more, not ${limit}.`)
  }
  return limit
}

function count(n: number): number {
  // Counts are whole numbers; a NaN from a bug must not poison history.
  return Number.isFinite(n) ? Math.trunc(n) : 0
}
