/**
 * The state store in PostgreSQL (`state: postgres://…`), for daemons and
 * clusters where several machines share one state. The tables live in their
 * own schema (`syncline`), created if missing, beside whatever else the
 * database holds.
 *
 * A small pool of its own: the state store never shares connections with a
 * connector, so a long scan never waits behind a checkpoint or the reverse.
 */
import pg from 'pg'
import { SynclineError } from '../errors.js'
import { quoteIdent } from '../connectors/postgres/dialect.js'
import { connectionString } from '../connectors/postgres/pool.js'
import { redactUrl } from '../connectors/server-url.js'
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
import { openError, operationError, passwordOf, scrub } from './postgres-state-errors.js'
import { FEED_POSITION_COLUMNS, feedPositionFromRow, feedPositionParams, feedPositionUpdates, type FeedPositionRow } from './feed-position-rows.js'
import { PostgresTwoWayState } from './postgres-two-way-state.js'
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

/** Options for {@link openPostgresStateStore}. */
export interface PostgresStateStoreOptions {
  /** Password, when it is not in the URL (e.g. from `${STATE_PASSWORD}`); wins over the URL's. */
  password?: string
  /** Schema holding the tables. Default `syncline`. */
  schema?: string
  /** Pool size. Default 4: a run's checkpoints plus a status reader. */
  maxConnections?: number
  /** How long to wait for a connection. Default 10 s. */
  connectTimeoutMs?: number
}

/** Serialises concurrent migrations across processes (any fixed 64-bit number works). */
const MIGRATION_LOCK = 0x73796e636c696e65n.toString()

/**
 * Connect to the PostgreSQL state database, creating the schema and tables if
 * missing. Throws a {@link ConnectionError} naming the (password-redacted)
 * URL: failure `transient` when the server is unreachable, `config` when the
 * database, credentials or privileges are wrong.
 * @example const state = await openPostgresStateStore('postgres://sync@db:5432/ops', { password: process.env.STATE_PASSWORD })
 */
export async function openPostgresStateStore(url: string, opts: PostgresStateStoreOptions = {}): Promise<PostgresStateStore> {
  const secret = opts.password ?? passwordOf(url)
  // redactUrl alone misses a password holding an unescaped '@'; scrub removes the secret first.
  const location = redactUrl(scrub(url, secret))
  const schema = quoteIdent(opts.schema ?? 'syncline')
  const pool = new pg.Pool({
    // The connector's connection string: the same password handling and session settings (UTC, ISO dates).
    connectionString: connectionString({ name: 'state', url, password: opts.password }),
    max: opts.maxConnections ?? 4,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
    idleTimeoutMillis: 10_000,
    // A CLI that forgets close() should still exit.
    allowExitOnIdle: true,
    application_name: 'syncline-state',
  })
  // An idle client whose server went away emits 'error' on the pool; without a
  // listener that would crash the process. The next query reports it instead.
  pool.on('error', () => undefined)
  try {
    await migrate(pool, schema)
  } catch (error) {
    await pool.end().catch(() => undefined)
    throw openError(location, secret, error)
  }
  return new PostgresStateStore(pool, schema, location, secret)
}

/** The {@link StateStore} on PostgreSQL. Create it with {@link openPostgresStateStore}. */
export class PostgresStateStore implements StateStore {
  /** The URL with its password redacted, for messages. */
  readonly location: string
  private readonly pool: pg.Pool
  private readonly schema: string
  private readonly secret: string | undefined
  private closed = false
  private twoWayState: TwoWayState | undefined

  /** Use {@link openPostgresStateStore}, which creates the schema and tables first. */
  constructor(pool: pg.Pool, quotedSchema: string, location: string, secret: string | undefined) {
    this.pool = pool
    this.schema = quotedSchema
    this.location = location
    this.secret = secret
  }

  async getWatermark(syncId: string): Promise<Watermark | undefined> {
    const rows = await this.query<WatermarkRow>(`SELECT cursor_value, key_values FROM ${this.schema}.watermarks WHERE sync_id = $1`, [syncId])
    return rows[0] === undefined ? undefined : watermarkFromRow(rows[0])
  }

  async setWatermark(syncId: string, watermark: Watermark | undefined): Promise<void> {
    if (watermark === undefined) {
      await this.query(`DELETE FROM ${this.schema}.watermarks WHERE sync_id = $1`, [syncId])
      return
    }
    await this.query(
      `INSERT INTO ${this.schema}.watermarks (sync_id, cursor_value, key_values, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (sync_id) DO UPDATE SET cursor_value = excluded.cursor_value, key_values = excluded.key_values, updated_at = excluded.updated_at`,
      [syncId, ...watermarkParams(watermark), new Date().toISOString()],
    )
  }

  async startRun(run: RunRecord): Promise<void> {
    await this.query(this.runInsert(), runParams(run, 'running'))
  }

  async finishRun(run: RunRecord): Promise<void> {
    // An upsert, so a run whose start was never recorded still lands in history.
    const updates = RUN_COLUMNS.filter((c) => c !== 'run_id').map((c) => `${c} = excluded.${c}`)
    await this.query(`${this.runInsert()} ON CONFLICT (run_id) DO UPDATE SET ${updates.join(', ')}`, runParams(run))
  }

  async finishRunIfRunning(run: RunRecord): Promise<boolean> {
    const [runId, ...rest] = runParams(run)
    const updates = RUN_COLUMNS.filter((c) => c !== 'run_id').map((c, i) => `${c} = $${i + 1}`)
    const rows = await this.query(
      `UPDATE ${this.schema}.runs SET ${updates.join(', ')} WHERE run_id = $${rest.length + 1} AND status = 'running' RETURNING run_id`,
      [...rest, runId],
    )
    return rows.length === 1
  }

  async listRuns(opts: { syncId?: string; status?: RunStatus; limit?: number } = {}): Promise<RunRecord[]> {
    const params: unknown[] = [checkLimit(opts.limit) ?? null]
    const where: string[] = []
    if (opts.syncId !== undefined) {
      params.push(opts.syncId)
      where.push(`sync_id = $${params.length}`)
    }
    if (opts.status !== undefined) {
      params.push(opts.status)
      where.push(`status = $${params.length}`)
    }
    const rows = await this.query<RunRow>(
      `SELECT ${RUN_COLUMNS.join(', ')} FROM ${this.schema}.runs` +
        (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
        ' ORDER BY started_at DESC, seq DESC LIMIT $1',
      params,
    )
    return rows.map(runFromRow)
  }

  async claimRunLock(lock: RunLock, replacing?: RunLock): Promise<boolean> {
    const params = runLockParams(lock)
    // Single statements, so taking a lock is atomic between processes: the
    // insert yields to a row already there, the update to a holder that changed.
    if (replacing === undefined) {
      const rows = await this.query(
        `INSERT INTO ${this.schema}.run_locks (${RUN_LOCK_COLUMNS.join(', ')}) VALUES (${RUN_LOCK_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})
         ON CONFLICT (sync_id) DO NOTHING RETURNING sync_id`,
        params,
      )
      return rows.length === 1
    }
    const updates = RUN_LOCK_COLUMNS.slice(1).map((c, i) => `${c} = $${i + 2}`)
    const rows = await this.query(
      `UPDATE ${this.schema}.run_locks SET ${updates.join(', ')} WHERE sync_id = $1 AND run_id = $${params.length + 1} AND heartbeat_at = $${params.length + 2} RETURNING sync_id`,
      [...params, replacing.runId, replacing.heartbeatAt],
    )
    return rows.length === 1
  }

  async touchRunLock(syncId: string, runId: string, heartbeatAt: string): Promise<boolean> {
    const rows = await this.query(`UPDATE ${this.schema}.run_locks SET heartbeat_at = $3 WHERE sync_id = $1 AND run_id = $2 RETURNING sync_id`, [
      syncId,
      runId,
      heartbeatAt,
    ])
    return rows.length === 1
  }

  async releaseRunLock(syncId: string, runId: string): Promise<void> {
    await this.query(`DELETE FROM ${this.schema}.run_locks WHERE sync_id = $1 AND run_id = $2`, [syncId, runId])
  }

  async getRunLock(syncId: string): Promise<RunLock | undefined> {
    const rows = await this.query<RunLockRow>(`SELECT ${RUN_LOCK_COLUMNS.join(', ')} FROM ${this.schema}.run_locks WHERE sync_id = $1`, [syncId])
    return rows[0] === undefined ? undefined : runLockFromRow(rows[0])
  }

  async listRunLocks(): Promise<RunLock[]> {
    const rows = await this.query<RunLockRow>(`SELECT ${RUN_LOCK_COLUMNS.join(', ')} FROM ${this.schema}.run_locks ORDER BY sync_id`)
    return rows.map(runLockFromRow)
  }

  async addRecordErrors(entries: RecordErrorEntry[]): Promise<void> {
    if (entries.length === 0) return
    // One statement with one array per column: atomic, and no 65535-parameter
    // limit however many records a batch rejected.
    const columns: string[][] = RECORD_ERROR_COLUMNS.map(() => [])
    for (const entry of entries) recordErrorParams(entry).forEach((value, i) => columns[i]!.push(value))
    await this.query(
      `INSERT INTO ${this.schema}.record_errors (${RECORD_ERROR_COLUMNS.join(', ')})
       SELECT * FROM unnest(${RECORD_ERROR_COLUMNS.map((_, i) => `$${i + 1}::text[]`).join(', ')})`,
      columns,
    )
  }

  async listRecordErrors(opts: { syncId?: string; runId?: string; limit?: number } = {}): Promise<RecordErrorEntry[]> {
    const params: unknown[] = [checkLimit(opts.limit) ?? null]
    const where = recordErrorWhere(opts, params)
    const rows = await this.query<RecordErrorRow>(
      `SELECT ${RECORD_ERROR_COLUMNS.join(', ')} FROM ${this.schema}.record_errors` +
        where +
        ' ORDER BY at DESC, seq DESC LIMIT $1',
      params,
    )
    return rows.map(recordErrorFromRow)
  }

  async getSyncFacts(syncId: string): Promise<SyncFacts | undefined> {
    const rows = await this.query<SyncFactsRow>(`SELECT ${SYNC_FACTS_COLUMNS.join(', ')} FROM ${this.schema}.sync_facts WHERE sync_id = $1`, [syncId])
    return rows[0] === undefined ? undefined : syncFactsFromRow(rows[0])
  }

  async setSyncFacts(syncId: string, facts: SyncFacts): Promise<void> {
    const updates = SYNC_FACTS_COLUMNS.filter((c) => c !== 'sync_id').map((c) => `${c} = excluded.${c}`)
    await this.query(
      `INSERT INTO ${this.schema}.sync_facts (${SYNC_FACTS_COLUMNS.join(', ')}) VALUES (${SYNC_FACTS_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})
       ON CONFLICT (sync_id) DO UPDATE SET ${updates.join(', ')}`,
      syncFactsParams(syncId, facts),
    )
  }

  async countRecordErrors(opts: { syncId?: string; runId?: string } = {}): Promise<number> {
    const params: unknown[] = []
    const where = recordErrorWhere(opts, params)
    const rows = await this.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${this.schema}.record_errors${where}`,
      params,
    )
    return Number(rows[0]?.n ?? 0)
  }

  async getFeedPosition(syncId: string): Promise<FeedPosition | undefined> {
    const rows = await this.query<FeedPositionRow>(`SELECT ${FEED_POSITION_COLUMNS.join(', ')} FROM ${this.schema}.feed_positions WHERE sync_id = $1`, [syncId])
    return rows[0] === undefined ? undefined : feedPositionFromRow(rows[0])
  }

  async setFeedPosition(position: FeedPosition): Promise<void> {
    await this.query(
      `INSERT INTO ${this.schema}.feed_positions AS f (${FEED_POSITION_COLUMNS.join(', ')}) VALUES (${FEED_POSITION_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})
       ON CONFLICT (sync_id) DO UPDATE SET ${feedPositionUpdates('f')}`,
      feedPositionParams(position),
    )
  }

  async listFeedPositions(): Promise<FeedPosition[]> {
    const rows = await this.query<FeedPositionRow>(`SELECT ${FEED_POSITION_COLUMNS.join(', ')} FROM ${this.schema}.feed_positions ORDER BY sync_id`)
    return rows.map(feedPositionFromRow)
  }

  async claimWatchConsumer(consumer: Pick<WatchConsumer, 'connection' | 'consumer' | 'entity'>): Promise<void> {
    await this.query(
      `INSERT INTO ${this.schema}.watch_consumers (connection, consumer, entity, released_at) VALUES ($1, $2, $3, NULL)
       ON CONFLICT (connection, consumer) DO UPDATE SET entity = excluded.entity, released_at = NULL`,
      [consumer.connection, consumer.consumer, consumer.entity],
    )
  }

  async releaseWatchConsumer(connection: string, consumer: string, releasedAt: string): Promise<void> {
    await this.query(`UPDATE ${this.schema}.watch_consumers SET released_at = $3 WHERE connection = $1 AND consumer = $2`, [connection, consumer, releasedAt])
  }

  async setWatchResume(connection: string, consumer: string, resume: WatchResume): Promise<void> {
    await this.query(`UPDATE ${this.schema}.watch_consumers SET resume_delivered = $1, resume_acknowledged = $2, resume_filters = $3 WHERE connection = $4 AND consumer = $5`, [
      ...watchResumeParams(resume),
      connection,
      consumer,
    ])
  }

  async getWatchConsumer(connection: string, consumer: string): Promise<WatchConsumer | undefined> {
    const rows = await this.query<WatchConsumerRow>(
      `SELECT ${WATCH_CONSUMER_COLUMNS.join(', ')} FROM ${this.schema}.watch_consumers WHERE connection = $1 AND consumer = $2`,
      [connection, consumer],
    )
    return rows[0] === undefined ? undefined : watchConsumerFromRow(rows[0])
  }

  async listWatchConsumers(connection?: string): Promise<WatchConsumer[]> {
    const rows = await this.query<WatchConsumerRow>(
      `SELECT ${WATCH_CONSUMER_COLUMNS.join(', ')} FROM ${this.schema}.watch_consumers WHERE $1::text IS NULL OR connection = $1 ORDER BY connection, consumer`,
      [connection ?? null],
    )
    return rows.map(watchConsumerFromRow)
  }

  async forgetWatchConsumer(connection: string, consumer: string): Promise<void> {
    await this.query(`DELETE FROM ${this.schema}.watch_consumers WHERE connection = $1 AND consumer = $2`, [connection, consumer])
  }

  async pruneHistory(opts: PruneHistoryOptions): Promise<PruneHistoryResult> {
    const { olderThan, keepRuns } = pruneBounds(opts)
    const doomed = prunableRunsQuery(`${this.schema}.runs`, '$1', '$2', 'postgres')
    // One statement: its CTEs see one snapshot, so both deletes remove the
    // runs ranked there and their errors, atomically, without a round trip per run.
    const sql = opts.dryRun
      ? `WITH doomed AS (${doomed})
         SELECT (SELECT count(*) FROM doomed) AS runs,
                (SELECT count(*) FROM ${this.schema}.record_errors e WHERE e.run_id IN (SELECT run_id FROM doomed)) AS record_errors`
      : `WITH doomed AS (${doomed}),
         gone_errors AS (DELETE FROM ${this.schema}.record_errors e USING doomed d WHERE e.run_id = d.run_id RETURNING 1),
         gone_runs AS (DELETE FROM ${this.schema}.runs r USING doomed d WHERE r.run_id = d.run_id RETURNING 1)
         SELECT (SELECT count(*) FROM gone_runs) AS runs, (SELECT count(*) FROM gone_errors) AS record_errors`
    const rows = await this.query<{ runs: string; record_errors: string }>(sql, [keepRuns - 1, olderThan])
    return { runs: Number(rows[0]?.runs ?? 0), recordErrors: Number(rows[0]?.record_errors ?? 0) }
  }

  async listSyncStates(): Promise<SyncState[]> {
    const s = this.schema
    const rows = await this.query<SyncStateRow>(
      `WITH ids AS (SELECT sync_id FROM ${s}.watermarks UNION SELECT sync_id FROM ${s}.runs)
       SELECT ids.sync_id AS state_sync_id, w.cursor_value, w.key_values, ${RUN_COLUMNS.map((c) => `last.${c}`).join(', ')}
       FROM ids
       LEFT JOIN ${s}.watermarks w ON w.sync_id = ids.sync_id
       LEFT JOIN ${s}.runs last ON last.seq = (
         SELECT r.seq FROM ${s}.runs r WHERE r.sync_id = ids.sync_id ORDER BY r.started_at DESC, r.seq DESC LIMIT 1
       )`,
    )
    return rows.map(syncStateFromRow).sort((a, b) => compareText(a.syncId, b.syncId))
  }

  twoWay(): TwoWayState {
    this.twoWayState ??= new PostgresTwoWayState({ query: (sql, params) => this.query(sql, params), transaction: (work) => this.transaction(work) }, this.schema)
    return this.twoWayState
  }

  async forgetSync(syncId: string): Promise<void> {
    await this.transaction(async (client) => {
      for (const table of SYNC_SCOPED_TABLES) await client.query(`DELETE FROM ${this.schema}.${table} WHERE sync_id = $1`, [syncId])
    })
  }

  /** End the pool; every connection is closed when this resolves. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.pool.end()
  }

  private runInsert(): string {
    const placeholders = RUN_COLUMNS.map((_, i) => `$${i + 1}`)
    return `INSERT INTO ${this.schema}.runs (${RUN_COLUMNS.join(', ')}) VALUES (${placeholders.join(', ')})`
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    this.checkOpen()
    try {
      return (await this.pool.query<R>(sql, params)).rows
    } catch (error) {
      throw operationError(this.location, this.secret, error)
    }
  }

  private async transaction(work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    this.checkOpen()
    let client: pg.PoolClient | undefined
    try {
      client = await this.pool.connect()
      await client.query('BEGIN')
      await work(client)
      await client.query('COMMIT')
      client.release()
    } catch (error) {
      if (client) {
        const rolledBack = await client.query('ROLLBACK').then(
          () => true,
          () => false,
        )
        // A connection that cannot even roll back is broken: drop it from the pool.
        client.release(rolledBack ? undefined : true)
      }
      throw operationError(this.location, this.secret, error)
    }
  }

  private checkOpen(): void {
    if (this.closed) {
      throw new SynclineError('INTERNAL', 'internal', `The state store at ${this.location} is closed; open it again to use it.`)
    }
  }
}

/**
 * Create the schema and tables once per version. Checked without the lock
 * first, so a user who may use but not create the schema can still open it.
 * Every version not recorded yet is applied, not only those above the
 * highest: branches may add versions out of order, and every statement is
 * idempotent.
 */
async function migrate(pool: pg.Pool, schema: string): Promise<void> {
  const client = await pool.connect()
  try {
    const missing = (applied: Set<number>) => STATE_MIGRATIONS.filter((m) => !applied.has(m.version))
    if (missing(await appliedVersions(client, schema)).length === 0) return
    await client.query('BEGIN')
    try {
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK])
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
      await client.query(SCHEMA_VERSION_TABLE.postgres(schema))
      for (const migration of missing(await appliedVersions(client, schema))) {
        for (const statement of migration.postgres(schema)) await client.query(statement)
        await client.query(`INSERT INTO ${schema}.schema_version (version, description, applied_at) VALUES ($1, $2, $3)`, [
          migration.version,
          migration.description,
          new Date().toISOString(),
        ])
      }
      await client.query('COMMIT')
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw error
    }
  } finally {
    client.release()
  }
}

async function appliedVersions(client: pg.PoolClient, schema: string): Promise<Set<number>> {
  const table = `${schema}.schema_version`
  const exists = await client.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [table])
  if (!exists.rows[0]?.found) return new Set()
  const rows = await client.query<{ version: number }>(`SELECT version FROM ${table}`)
  return new Set(rows.rows.map((r) => r.version))
}

/** The WHERE clause (with its leading space, or empty) selecting record errors; its values are appended to `params`. */
function recordErrorWhere(opts: { syncId?: string; runId?: string }, params: unknown[]): string {
  const where: string[] = []
  if (opts.syncId !== undefined) {
    params.push(opts.syncId)
    where.push(`sync_id = $${params.length}`)
  }
  if (opts.runId !== undefined) {
    params.push(opts.runId)
    where.push(`run_id = $${params.length}`)
  }
  return where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''
}
