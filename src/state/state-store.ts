/**
 * The state store: watermarks, run history and per-record errors.
 *
 * Embedded SQLite by default (`state: .syncline/state.db`), PostgreSQL when
 * the plan's `state` is a `postgres://` URL. State is written only after the
 * destination has committed the rows it describes.
 */
import type { KeyValues, Value } from '../values/canonical.js'
import type { TwoWayState } from './two-way-state.js'

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
  /** The error's stable code (`CONNECTION_REFUSED`…), when it failed with one. */
  errorCode?: string
  /**
   * Which attempt this is, from 1: a run that failed with a transient error
   * is retried (`retries:`), and every retry is a run of its own in history.
   * Absent means 1.
   */
  attempt?: number
  /**
   * What the run did beyond its counts that a user should know, one sentence
   * each (e.g. that it refilled a destination that had lost rows).
   */
  notes?: string[]
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

/** One source field a run wrote, and the destination field it wrote it to. */
export interface MappedFieldPair {
  source: string
  destination: string
}

/** A connection and an entity in it, as the plan names them. */
export interface EntityRef {
  connection: string
  entity: string
}

/**
 * What the last successful (or partial) run of a sync delivered, kept so the
 * next run can notice a destination that lost rows and a source field that
 * disappeared. Saved after the destination committed, never in a dry run.
 */
export interface SyncFacts {
  source: EntityRef
  destination: EntityRef
  /** Rows the destination held when the run ended; absent when the destination cannot count cheaply. */
  destinationRows?: number
  /** The source fields the run wrote directly (or as a transform's implicit argument). */
  mappedFields: MappedFieldPair[]
  /** Every field of the source entity at that run. */
  sourceFields: string[]
  /**
   * Syncline created the destination (`create: true`), on this run or an
   * earlier one with the same destination: its schema drift policy defaults
   * to `evolve` instead of `fail` (docs/plan-and-cli.md "schema").
   */
  destinationCreated?: boolean
  updatedAt: string
}

/**
 * The lock a run holds on its sync (one run of a sync at a time), with what
 * tells whether its holder still lives: the process and machine, and the
 * time it last showed life.
 */
export interface RunLock {
  syncId: string
  /** The run holding it (its row in history). */
  runId: string
  pid: number
  /** `os.hostname()` of the holder's machine. */
  host: string
  acquiredAt: string
  /** Refreshed while the run goes on. */
  heartbeatAt: string
}

/**
 * Where a realtime sync's change stream resumes: the position of the last
 * batch the destination committed, under the consumer that reads it.
 */
export interface FeedPosition {
  syncId: string
  /** The consumer name at the source (its slot, change-log reader…). */
  consumer: string
  /** The source connection and entity, as the plan named them when it was saved. */
  connection: string
  entity: string
  /** The connector's opaque resume token. */
  position: string
  /** Source commit time of the last change applied; absent before the first change. */
  committedAt?: string
  updatedAt: string
}

/** Per-sync state summarised for `syncline status`. */
export interface SyncState {
  syncId: string
  watermark?: Watermark
  lastRun?: RunRecord
}

/**
 * A watch's change-feed consumer (`watch_<8 hex>`) as the state store keeps
 * it, so ended watches do not make a source keep its log forever
 * (docs/realtime.md "Decisions").
 */
export interface WatchConsumer {
  /** The connection (plan name) whose datasource keeps the consumer. */
  connection: string
  consumer: string
  entity: string
  /** When its last watch ended; absent while a watch reads it (or one ended without saying so). */
  releasedAt?: string
  /** Where `since` its last delivered event may resume instead (schema version 9); absent until a watch acknowledged past an event. */
  resume?: WatchResume
}

/**
 * A fact about a watch consumer's log (docs/realtime.md "Positions"): no
 * event the watch would deliver lies after `delivered` up to
 * `acknowledged`, so a resume `since` the former may open the source at the
 * latter. Written before the source is acknowledged `acknowledged`, so a
 * user who kept only their last event's position can still resume once the
 * source released the log up to it (PostgreSQL's position-only moves).
 */
export interface WatchResume {
  /** Connector position of the last event the watch delivered (or of its start, before any event). */
  delivered: string
  /** Connector position the watch acknowledged after it. */
  acknowledged: string
  /**
   * Absent when no change at all lies between the two (only the source's
   * position moved); otherwise the fingerprint of the filters that left
   * out the changes between, so only a watch with the same filters skips them.
   */
  filters?: string
}

/**
 * What {@link StateStore.pruneHistory} removes: every run that is both
 * started before `olderThan` and beyond the newest `keepRuns` of its sync,
 * never a run still `running` and never a sync's newest run.
 */
export interface PruneHistoryOptions {
  /** ISO time; only runs started before it may go. */
  olderThan: string
  /** Runs kept per sync whatever their age, newest first; at least 1 (a smaller number counts as 1). */
  keepRuns: number
  /** Count what would go, remove nothing. */
  dryRun?: boolean
}

/** How much {@link StateStore.pruneHistory} removed (or, in a dry run, would remove). */
export interface PruneHistoryResult {
  runs: number
  /** Record errors of those runs, which go with them. */
  recordErrors: number
}

/** Storage for everything syncline must remember between runs. */
export interface StateStore {
  getWatermark(syncId: string): Promise<Watermark | undefined>
  /** Save after the destination committed; `undefined` clears it (a `--full` re-run). */
  setWatermark(syncId: string, watermark: Watermark | undefined): Promise<void>

  startRun(run: RunRecord): Promise<void>
  finishRun(run: RunRecord): Promise<void>
  /**
   * Write a run's ending only if it is still recorded as `running`; false
   * (and nothing written) when it has ended meanwhile. For marking runs whose
   * process died without overwriting one that finished after all.
   */
  finishRunIfRunning(run: RunRecord): Promise<boolean>
  /** Newest first; `status` keeps only runs in that state. */
  listRuns(opts?: { syncId?: string; status?: RunStatus; limit?: number }): Promise<RunRecord[]>

  /**
   * Take a sync's run lock, atomically. Without `replacing`, only when the
   * sync has no lock; with it, only when that very holder (same run and
   * heartbeat) is still there, so of two processes taking over the same
   * stale lock one wins. True when `lock` is now held.
   */
  claimRunLock(lock: RunLock, replacing?: RunLock): Promise<boolean>
  /** Move the heartbeat of the run's lock to `heartbeatAt`; false when the run no longer holds it. */
  touchRunLock(syncId: string, runId: string, heartbeatAt: string): Promise<boolean>
  /** Drop the sync's lock if `runId` still holds it. */
  releaseRunLock(syncId: string, runId: string): Promise<void>
  /** The sync's lock, if a run holds it. */
  getRunLock(syncId: string): Promise<RunLock | undefined>
  /** Every lock held. */
  listRunLocks(): Promise<RunLock[]>

  addRecordErrors(entries: RecordErrorEntry[]): Promise<void>
  /** Newest first. */
  listRecordErrors(opts?: { syncId?: string; runId?: string; limit?: number }): Promise<RecordErrorEntry[]>
  /** How many record errors {@link listRecordErrors} would list without a limit (for "… and N more"). */
  countRecordErrors(opts?: { syncId?: string; runId?: string }): Promise<number>

  /** What the last successful run of a sync delivered, if it ran since state version 2. */
  getSyncFacts(syncId: string): Promise<SyncFacts | undefined>
  /** Replace a sync's facts (after the destination committed). */
  setSyncFacts(syncId: string, facts: SyncFacts): Promise<void>

  /** A realtime sync's saved stream position. */
  getFeedPosition(syncId: string): Promise<FeedPosition | undefined>
  /** Save after the destination committed everything up to `position`. */
  setFeedPosition(position: FeedPosition): Promise<void>
  /** Every saved stream position, by sync id. */
  listFeedPositions(): Promise<FeedPosition[]>
  /**
   * Record that a watch reads this consumer now (a resumed consumer is no
   * longer released), creating its row on first use.
   */
  claimWatchConsumer(consumer: Pick<WatchConsumer, 'connection' | 'consumer' | 'entity'>): Promise<void>
  /** Record that the consumer's watch ended at `releasedAt`. */
  releaseWatchConsumer(connection: string, consumer: string, releasedAt: string): Promise<void>
  /** Replace the consumer's {@link WatchResume} (before its watch acknowledges `resume.acknowledged`). */
  setWatchResume(connection: string, consumer: string, resume: WatchResume): Promise<void>
  /** One watch consumer, if the store knows it. */
  getWatchConsumer(connection: string, consumer: string): Promise<WatchConsumer | undefined>
  /** The watch consumers of one connection (or of all), by connection and consumer name. */
  listWatchConsumers(connection?: string): Promise<WatchConsumer[]>
  /** Forget a consumer (after its feed was dropped at the source). */
  forgetWatchConsumer(connection: string, consumer: string): Promise<void>

  /**
   * Drop old run history and the record errors of the runs dropped, in one
   * transaction (docs/state.md "Retention").
   * @example await state.pruneHistory({ olderThan: '2026-11-01T00:00:00Z', keepRuns: 1000 })
   */
  pruneHistory(opts: PruneHistoryOptions): Promise<PruneHistoryResult>

  /** Every sync that has state, with its watermark and last run. */
  listSyncStates(): Promise<SyncState[]>

  /** What two-way syncs keep: base hashes, the destination watermark, conflicts (docs/two-way.md). */
  twoWay(): TwoWayState

  /** Forget everything about a sync (watermark, runs, errors, facts, its lock, its stream position). */
  forgetSync(syncId: string): Promise<void>

  close(): Promise<void>
}
