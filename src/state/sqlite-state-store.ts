/**
 * The embedded state store: one SQLite file (default `.syncline/state.db`
 * beside the plan file).
 *
 * WAL mode lets `syncline status` read while `syncline run` writes, and the
 * busy timeout makes a second writer wait for the first instead of failing.
 * Write methods take the write lock up front (`BEGIN IMMEDIATE`), so two
 * processes never deadlock upgrading a read lock.
 */
import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { ConnectionError, SynclineError } from '../errors.js'
import { compareText } from '../values/compare.js'
import {
  RECORD_ERROR_COLUMNS,
  RUN_COLUMNS,
  RUN_LOCK_COLUMNS,
  SYNC_FACTS_COLUMNS,
  WATCH_CONSUMER_COLUMNS,
  checkLimit,
  recordErrorFromRow,
  recordErrorParams,
  runFromRow,
  runLockFromRow,
  runLockParams,
  runParams,
  syncFactsFromRow,
  syncFactsParams,
  syncStateFromRow,
  watchConsumerFromRow,
  watchResumeParams,
  watermarkFromRow,
  watermarkParams,
  type RecordErrorRow,
  type RunLockRow,
  type RunRow,
  type SyncFactsRow,
  type SyncStateRow,
  type WatchConsumerRow,
  type WatermarkRow,
} from './state-rows.js'
import { FEED_POSITION_COLUMNS, feedPositionFromRow, feedPositionParams, feedPositionUpdates, type FeedPositionRow } from './feed-position-rows.js'
import { SqliteTwoWayState } from './sqlite-two-way-state.js'
import type { TwoWayState } from './two-way-state.js'
import { SCHEMA_VERSION_TABLE, STATE_MIGRATIONS, SYNC_SCOPED_TABLES } from './state-schema.js'
import { prunableRunsQuery, pruneBounds } from './prune-history.js'
import type {
  FeedPosition,
  PruneHistoryOptions,
  PruneHistoryResult,
  RecordErrorEntry,
  RunLock,
  RunRecord,
  RunStatus,
  StateStore,
  SyncFacts,
  SyncState,
  WatchConsumer,
  WatchResume,
  Watermark,
} from './state-store.js'

/** How long a writer waits for another process's write to finish before giving up. */
export const SQLITE_BUSY_TIMEOUT_MS = 10_000

/** The state file's page cache, in KiB. */
const STATE_CACHE_KIB = 2000

const RUN_SELECT = RUN_COLUMNS.join(', ')
const RUN_INSERT = `INSERT INTO runs (${RUN_SELECT}) VALUES (${RUN_COLUMNS.map(() => '?').join(', ')})`

/**
 * Open (creating if needed) the SQLite state database at `path`, an absolute
 * path or `:memory:`. Creates the directory and applies migrations.
 * Throws a {@link ConnectionError} (`CONNECTION_REFUSED`, failure `config`)
 * naming the path when the file cannot be opened.
 * @example const state = openSqliteStateStore('/srv/sync/.syncline/state.db')
 */
export function openSqliteStateStore(path: string): SqliteStateStore {
  let db: Database.Database | undefined
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
    db = new Database(path, { timeout: SQLITE_BUSY_TIMEOUT_MS })
    db.pragma('journal_mode = WAL')
    // NORMAL in WAL mode: a commit survives a crash of the process, only a
    // power loss may roll back the last few. Everything here is saved after
    // the destination committed and replays harmlessly (positions and
    // watermarks are at-least-once, a lost base makes both sides agree again),
    // while FULL's fsync per saved position cost 0.1-4 ms a batch in realtime
    // syncs (npm run bench, realtime).
    db.pragma('synchronous = NORMAL')
    // SQLite's own default page cache (2 MB), not better-sqlite3's 16 MB: a
    // two-way run looks up base entries at random keys and its key pass reads
    // every base key, which filled all 16 MB (about 20 MB of RSS) for pages
    // the OS's file cache keeps anyway (npm run bench, two-way).
    db.pragma(`cache_size = -${STATE_CACHE_KIB}`)
    migrate(db)
    return new SqliteStateStore(db, path)
  } catch (error) {
    db?.close()
    throw openError(path, error)
  }
}

/** The {@link StateStore} on an embedded SQLite file. Create it with {@link openSqliteStateStore}. */
export class SqliteStateStore implements StateStore {
  /** The database file (or `:memory:`). */
  readonly path: string
  private readonly db: Database.Database
  private closed = false
  private twoWayState: TwoWayState | undefined
  private readonly statements: ReturnType<typeof prepareStatements>

  /** Use {@link openSqliteStateStore}, which creates the file and the tables first. */
  constructor(db: Database.Database, path: string) {
    this.db = db
    this.path = path
    this.statements = prepareStatements(db)
  }

  async getWatermark(syncId: string): Promise<Watermark | undefined> {
    return this.use(() => {
      const row = this.statements.getWatermark.get(syncId) as WatermarkRow | undefined
      return row === undefined ? undefined : watermarkFromRow(row)
    })
  }

  async setWatermark(syncId: string, watermark: Watermark | undefined): Promise<void> {
    this.use(() => {
      if (watermark === undefined) this.statements.clearWatermark.run(syncId)
      else this.statements.setWatermark.run(syncId, ...watermarkParams(watermark), new Date().toISOString())
    })
  }

  async startRun(run: RunRecord): Promise<void> {
    this.use(() => this.statements.startRun.run(sqliteParams(runParams(run, 'running'))))
  }

  async finishRun(run: RunRecord): Promise<void> {
    this.use(() => this.statements.finishRun.run(sqliteParams(runParams(run))))
  }

  async finishRunIfRunning(run: RunRecord): Promise<boolean> {
    return this.use(() => {
      const [runId, ...rest] = sqliteParams(runParams(run))
      return this.statements.finishRunIfRunning.run(...rest, runId).changes === 1
    })
  }

  async listRuns(opts: { syncId?: string; status?: RunStatus; limit?: number } = {}): Promise<RunRecord[]> {
    return this.use(() => {
      const where: string[] = []
      const params: (string | number)[] = []
      if (opts.syncId !== undefined) {
        where.push('sync_id = ?')
        params.push(opts.syncId)
      }
      if (opts.status !== undefined) {
        where.push('status = ?')
        params.push(opts.status)
      }
      params.push(checkLimit(opts.limit) ?? -1)
      const sql =
        `SELECT ${RUN_SELECT} FROM runs` + (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') + ' ORDER BY started_at DESC, seq DESC LIMIT ?'
      return (this.db.prepare(sql).all(params) as RunRow[]).map(runFromRow)
    })
  }

  async claimRunLock(lock: RunLock, replacing?: RunLock): Promise<boolean> {
    return this.use(() => {
      const params = runLockParams(lock)
      const result =
        replacing === undefined
          ? this.statements.insertRunLock.run(params)
          : this.statements.replaceRunLock.run(...params.slice(1), lock.syncId, replacing.runId, replacing.heartbeatAt)
      return result.changes === 1
    })
  }

  async touchRunLock(syncId: string, runId: string, heartbeatAt: string): Promise<boolean> {
    return this.use(() => this.statements.touchRunLock.run(heartbeatAt, syncId, runId).changes === 1)
  }

  async releaseRunLock(syncId: string, runId: string): Promise<void> {
    this.use(() => this.statements.releaseRunLock.run(syncId, runId))
  }

  async getRunLock(syncId: string): Promise<RunLock | undefined> {
    return this.use(() => {
      const row = this.statements.getRunLock.get(syncId) as RunLockRow | undefined
      return row === undefined ? undefined : runLockFromRow(row)
    })
  }

  async listRunLocks(): Promise<RunLock[]> {
    return this.use(() => (this.statements.listRunLocks.all() as RunLockRow[]).map(runLockFromRow))
  }

  async addRecordErrors(entries: RecordErrorEntry[]): Promise<void> {
    if (entries.length === 0) return
    this.use(() => {
      const insert = this.statements.addRecordError
      this.db
        .transaction(() => {
          for (const entry of entries) insert.run(recordErrorParams(entry))
        })
        .immediate()
    })
  }

  async listRecordErrors(opts: { syncId?: string; runId?: string; limit?: number } = {}): Promise<RecordErrorEntry[]> {
    return this.use(() => {
      const { where, params } = recordErrorFilter(opts)
      params.push(checkLimit(opts.limit) ?? -1)
      const sql = `SELECT ${RECORD_ERROR_COLUMNS.join(', ')} FROM record_errors${where} ORDER BY at DESC, seq DESC LIMIT ?`
      return (this.db.prepare(sql).all(params) as RecordErrorRow[]).map(recordErrorFromRow)
    })
  }

  async getSyncFacts(syncId: string): Promise<SyncFacts | undefined> {
    return this.use(() => {
      const row = this.statements.getSyncFacts.get(syncId) as SyncFactsRow | undefined
      return row === undefined ? undefined : syncFactsFromRow(row)
    })
  }

  async setSyncFacts(syncId: string, facts: SyncFacts): Promise<void> {
    this.use(() => this.statements.setSyncFacts.run(syncFactsParams(syncId, facts)))
  }

  async countRecordErrors(opts: { syncId?: string; runId?: string } = {}): Promise<number> {
    return this.use(() => {
      const { where, params } = recordErrorFilter(opts)
      return (this.db.prepare(`SELECT count(*) AS n FROM record_errors${where}`).get(params) as { n: number }).n
    })
  }

  async getFeedPosition(syncId: string): Promise<FeedPosition | undefined> {
    return this.use(() => {
      const row = this.statements.getFeedPosition.get(syncId) as FeedPositionRow | undefined
      return row === undefined ? undefined : feedPositionFromRow(row)
    })
  }

  async setFeedPosition(position: FeedPosition): Promise<void> {
    this.use(() => this.statements.setFeedPosition.run(feedPositionParams(position)))
  }

  async listFeedPositions(): Promise<FeedPosition[]> {
    return this.use(() => (this.statements.listFeedPositions.all() as FeedPositionRow[]).map(feedPositionFromRow))
  }

  async claimWatchConsumer(consumer: Pick<WatchConsumer, 'connection' | 'consumer' | 'entity'>): Promise<void> {
    this.use(() => this.statements.claimWatchConsumer.run(consumer.connection, consumer.consumer, consumer.entity))
  }

  async setWatchResume(connection: string, consumer: string, resume: WatchResume): Promise<void> {
    this.use(() => this.statements.setWatchResume.run(...watchResumeParams(resume), connection, consumer))
  }

  async releaseWatchConsumer(connection: string, consumer: string, releasedAt: string): Promise<void> {
    this.use(() => this.statements.releaseWatchConsumer.run(releasedAt, connection, consumer))
  }

  async getWatchConsumer(connection: string, consumer: string): Promise<WatchConsumer | undefined> {
    return this.use(() => {
      const row = this.statements.getWatchConsumer.get(connection, consumer) as WatchConsumerRow | undefined
      return row === undefined ? undefined : watchConsumerFromRow(row)
    })
  }

  async listWatchConsumers(connection?: string): Promise<WatchConsumer[]> {
    return this.use(() => {
      const rows = (connection === undefined ? this.statements.listAllWatchConsumers.all() : this.statements.listWatchConsumers.all(connection)) as WatchConsumerRow[]
      return rows.map(watchConsumerFromRow)
    })
  }

  async forgetWatchConsumer(connection: string, consumer: string): Promise<void> {
    this.use(() => this.statements.forgetWatchConsumer.run(connection, consumer))
  }

  async pruneHistory(opts: PruneHistoryOptions): Promise<PruneHistoryResult> {
    const { olderThan, keepRuns } = pruneBounds(opts)
    const doomed = prunableRunsQuery('runs', '@offset', '@olderThan', 'sqlite')
    const bind = { offset: keepRuns - 1, olderThan }
    return this.use(() => {
      // IMMEDIATE: the write lock first, so the cutoffs cannot change between
      // the statements (a run starting meanwhile waits) and both deletes
      // remove exactly the runs counted.
      const prune = this.db.transaction((): PruneHistoryResult => {
        const recordErrors = opts.dryRun
          ? (this.db.prepare(`SELECT count(*) AS n FROM record_errors WHERE run_id IN (${doomed})`).get(bind) as { n: number }).n
          : this.db.prepare(`DELETE FROM record_errors WHERE run_id IN (${doomed})`).run(bind).changes
        const runs = opts.dryRun
          ? (this.db.prepare(`SELECT count(*) AS n FROM (${doomed})`).get(bind) as { n: number }).n
          : this.db.prepare(`DELETE FROM runs WHERE run_id IN (${doomed})`).run(bind).changes
        return { runs, recordErrors }
      })
      return opts.dryRun ? prune.deferred() : prune.immediate()
    })
  }

  async listSyncStates(): Promise<SyncState[]> {
    return this.use(() => {
      const rows = this.statements.listSyncStates.all() as SyncStateRow[]
      return rows.map(syncStateFromRow).sort((a, b) => compareText(a.syncId, b.syncId))
    })
  }

  twoWay(): TwoWayState {
    this.twoWayState ??= new SqliteTwoWayState(this.db, (operation) => this.use(operation))
    return this.twoWayState
  }

  async forgetSync(syncId: string): Promise<void> {
    this.use(() => {
      this.db
        .transaction(() => {
          for (const table of SYNC_SCOPED_TABLES) this.db.prepare(`DELETE FROM ${table} WHERE sync_id = ?`).run(syncId)
        })
        .immediate()
    })
  }

  /** Close the file; the WAL is checkpointed and removed. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.db.close()
  }

  /** Run one store operation, turning driver errors into errors that say what to do. */
  private use<T>(operation: () => T): T {
    if (this.closed) {
      throw new SynclineError('INTERNAL', 'internal', `The state store at ${this.path} is closed; open it again to use it.`)
    }
    try {
      return operation()
    } catch (error) {
      throw operationError(this.path, error)
    }
  }
}

function prepareStatements(db: Database.Database) {
  return {
    getWatermark: db.prepare('SELECT cursor_value, key_values FROM watermarks WHERE sync_id = ?'),
    setWatermark: db.prepare(
      `INSERT INTO watermarks (sync_id, cursor_value, key_values, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (sync_id) DO UPDATE SET cursor_value = excluded.cursor_value, key_values = excluded.key_values, updated_at = excluded.updated_at`,
    ),
    clearWatermark: db.prepare('DELETE FROM watermarks WHERE sync_id = ?'),
    getSyncFacts: db.prepare(`SELECT ${SYNC_FACTS_COLUMNS.join(', ')} FROM sync_facts WHERE sync_id = ?`),
    setSyncFacts: db.prepare(
      `INSERT INTO sync_facts (${SYNC_FACTS_COLUMNS.join(', ')}) VALUES (${SYNC_FACTS_COLUMNS.map(() => '?').join(', ')})
       ON CONFLICT (sync_id) DO UPDATE SET ${SYNC_FACTS_COLUMNS.filter((c) => c !== 'sync_id')
         .map((c) => `${c} = excluded.${c}`)
         .join(', ')}`,
    ),
    getFeedPosition: db.prepare(`SELECT ${FEED_POSITION_COLUMNS.join(', ')} FROM feed_positions WHERE sync_id = ?`),
    setFeedPosition: db.prepare(
      `INSERT INTO feed_positions (${FEED_POSITION_COLUMNS.join(', ')}) VALUES (${FEED_POSITION_COLUMNS.map(() => '?').join(', ')})
       ON CONFLICT (sync_id) DO UPDATE SET ${feedPositionUpdates('feed_positions')}`,
    ),
    listFeedPositions: db.prepare(`SELECT ${FEED_POSITION_COLUMNS.join(', ')} FROM feed_positions ORDER BY sync_id`),
    startRun: db.prepare(RUN_INSERT),
    // An upsert, so a run whose start was never recorded (a crash between
    // start and the first write) still lands in history.
    finishRun: db.prepare(
      `${RUN_INSERT} ON CONFLICT (run_id) DO UPDATE SET ${RUN_COLUMNS.filter((c) => c !== 'run_id')
        .map((c) => `${c} = excluded.${c}`)
        .join(', ')}`,
    ),
    finishRunIfRunning: db.prepare(
      `UPDATE runs SET ${RUN_COLUMNS.filter((c) => c !== 'run_id')
        .map((c) => `${c} = ?`)
        .join(', ')} WHERE run_id = ? AND status = 'running'`,
    ),
    // Single statements, so taking a lock is atomic between processes.
    insertRunLock: db.prepare(
      `INSERT INTO run_locks (${RUN_LOCK_COLUMNS.join(', ')}) VALUES (${RUN_LOCK_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (sync_id) DO NOTHING`,
    ),
    replaceRunLock: db.prepare(
      `UPDATE run_locks SET ${RUN_LOCK_COLUMNS.filter((c) => c !== 'sync_id')
        .map((c) => `${c} = ?`)
        .join(', ')} WHERE sync_id = ? AND run_id = ? AND heartbeat_at = ?`,
    ),
    touchRunLock: db.prepare('UPDATE run_locks SET heartbeat_at = ? WHERE sync_id = ? AND run_id = ?'),
    releaseRunLock: db.prepare('DELETE FROM run_locks WHERE sync_id = ? AND run_id = ?'),
    getRunLock: db.prepare(`SELECT ${RUN_LOCK_COLUMNS.join(', ')} FROM run_locks WHERE sync_id = ?`),
    listRunLocks: db.prepare(`SELECT ${RUN_LOCK_COLUMNS.join(', ')} FROM run_locks ORDER BY sync_id`),
    addRecordError: db.prepare(
      `INSERT INTO record_errors (${RECORD_ERROR_COLUMNS.join(', ')}) VALUES (${RECORD_ERROR_COLUMNS.map(() => '?').join(', ')})`,
    ),
    claimWatchConsumer: db.prepare(
      `INSERT INTO watch_consumers (connection, consumer, entity, released_at) VALUES (?, ?, ?, NULL)
       ON CONFLICT (connection, consumer) DO UPDATE SET entity = excluded.entity, released_at = NULL`,
    ),
    releaseWatchConsumer: db.prepare('UPDATE watch_consumers SET released_at = ? WHERE connection = ? AND consumer = ?'),
    setWatchResume: db.prepare('UPDATE watch_consumers SET resume_delivered = ?, resume_acknowledged = ?, resume_filters = ? WHERE connection = ? AND consumer = ?'),
    getWatchConsumer: db.prepare(`SELECT ${WATCH_CONSUMER_COLUMNS.join(', ')} FROM watch_consumers WHERE connection = ? AND consumer = ?`),
    listWatchConsumers: db.prepare(`SELECT ${WATCH_CONSUMER_COLUMNS.join(', ')} FROM watch_consumers WHERE connection = ? ORDER BY consumer`),
    listAllWatchConsumers: db.prepare(`SELECT ${WATCH_CONSUMER_COLUMNS.join(', ')} FROM watch_consumers ORDER BY connection, consumer`),
    forgetWatchConsumer: db.prepare('DELETE FROM watch_consumers WHERE connection = ? AND consumer = ?'),
    listSyncStates: db.prepare(
      `WITH ids AS (SELECT sync_id FROM watermarks UNION SELECT sync_id FROM runs)
       SELECT ids.sync_id AS state_sync_id, w.cursor_value, w.key_values, ${RUN_COLUMNS.map((c) => `last.${c}`).join(', ')}
       FROM ids
       LEFT JOIN watermarks w ON w.sync_id = ids.sync_id
       LEFT JOIN runs last ON last.seq = (
         SELECT r.seq FROM runs r WHERE r.sync_id = ids.sync_id ORDER BY r.started_at DESC, r.seq DESC LIMIT 1
       )`,
    ),
  }
}

/**
 * Create the tables, once per version; a second process opening at the same
 * time waits on the write lock. Every version not recorded yet is applied,
 * not only those above the highest: branches may add versions out of order,
 * and every statement is idempotent.
 */
function migrate(db: Database.Database): void {
  if (STATE_MIGRATIONS.every((m) => appliedVersions(db).has(m.version))) return
  db.transaction(() => {
    db.exec(SCHEMA_VERSION_TABLE.sqlite)
    const applied = appliedVersions(db)
    const record = db.prepare('INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)')
    for (const migration of STATE_MIGRATIONS) {
      if (applied.has(migration.version)) continue
      for (const statement of migration.sqlite) db.exec(statement)
      record.run(migration.version, migration.description, new Date().toISOString())
    }
  }).immediate()
}

function appliedVersions(db: Database.Database): Set<number> {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get()
  if (exists === undefined) return new Set()
  return new Set(db.prepare('SELECT version FROM schema_version').pluck().all() as number[])
}

/** better-sqlite3 binds no booleans. */
function sqliteParams(params: (string | number | boolean | null)[]): (string | number | null)[] {
  return params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p))
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : ''
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function openError(path: string, error: unknown): SynclineError {
  if (error instanceof SynclineError) return error
  const code = errorCode(error)
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return busyError(path, error)
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new ConnectionError(
      'CONNECTION_REFUSED',
      'config',
      `The state database ${path} is not a usable SQLite file (${errorMessage(error)}). Move it away, or set 'state:' in the plan to another path.`,
      { cause: error, details: { location: path } },
    )
  }
  const reason =
    code === 'EEXIST' || code === 'ENOTDIR'
      ? `a part of ${dirname(path)} is a file, not a directory`
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? `permission denied (${errorMessage(error)})`
        : errorMessage(error)
  return new ConnectionError(
    'CONNECTION_REFUSED',
    'config',
    `Cannot open the state database ${path}: ${reason}. Make sure its directory can be created and written, or set 'state:' in the plan to another path (or a postgres:// URL).`,
    { cause: error, details: { location: path } },
  )
}

function operationError(path: string, error: unknown): unknown {
  if (error instanceof SynclineError) return error
  const code = errorCode(error)
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return busyError(path, error)
  if (code.startsWith('SQLITE_READONLY')) {
    return new ConnectionError(
      'CONNECTION_REFUSED',
      'config',
      `The state database ${path} is read-only: make the file and its directory writable, or set 'state:' in the plan to another path.`,
      { cause: error, details: { location: path } },
    )
  }
  if (code.startsWith('SQLITE_')) {
    return new SynclineError('INTERNAL', 'internal', `The state database ${path} failed: ${errorMessage(error)}.`, {
      cause: error,
      details: { location: path },
    })
  }
  return error
}

function busyError(path: string, error: unknown): SynclineError {
  return new SynclineError(
    'LOCKED',
    'transient',
    `The state database ${path} stayed locked by another process for ${SQLITE_BUSY_TIMEOUT_MS / 1000} s. Try again when the other syncline command has finished.`,
    { cause: error, details: { location: path } },
  )
}

/** The WHERE clause (with its leading space, or empty) and parameters selecting record errors. */
function recordErrorFilter(opts: { syncId?: string; runId?: string }): { where: string; params: (string | number)[] } {
  const where: string[] = []
  const params: (string | number)[] = []
  if (opts.syncId !== undefined) {
    where.push('sync_id = ?')
    params.push(opts.syncId)
  }
  if (opts.runId !== undefined) {
    where.push('run_id = ?')
    params.push(opts.runId)
  }
  return { where: where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '', params }
}
