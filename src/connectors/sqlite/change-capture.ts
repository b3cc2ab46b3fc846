/**
 * Change capture for SQLite: triggers write every row change of a captured
 * table into a change log in the same file (`triggers.ts`,
 * `change-log.ts`), and a feed reads the log in sequence order. Any process
 * that writes the file fires the triggers, so nothing written by the sqlite3
 * shell or another application is missed. Positions are the log's sequence
 * numbers as text.
 *
 * A feed has a connection of its own. Opened without a position, it begins
 * a read transaction (WAL mode) that reads the log's last sequence number,
 * which is `start`, and keeps it open until the snapshot has been read, so
 * the snapshot is the table exactly as of `start`: a change committed later
 * is in the log after `start`, and not in the snapshot.
 */
import { accessSync, constants, existsSync } from 'node:fs'
import { dirname } from 'node:path'
import { SynclineError, throwIfAborted } from '../../errors.js'
import type { EntityInfo, FieldInfo, KeyValues, Row } from '../../values/canonical.js'
import { compareKeys } from '../../values/compare.js'
import type { ChangeBatch, ChangeFeed, ChangeFeedOptions, ChangeFeedStatus, Position, SourceChange } from '../change-feed.js'
import { keyOf, type ConnectionConfig, type ScanOptions } from '../connector.js'
import {
  acknowledge,
  capturedTable,
  capturedTables,
  consumerPosition,
  consumerStatuses,
  createChangeLog,
  dropChangeLog,
  hasChangeLog,
  hasConsumers,
  lastSeq,
  placeConsumer,
  recordCaptured,
  removeConsumer,
  writeTransaction,
  CHANGES_TABLE,
  CHANGE_LOG_TABLES,
} from './change-log.js'
import { ChangeWaker } from './change-waker.js'
import { rowDecoder } from './codec.js'
import { MEMORY, SqliteFile } from './database.js'
import { CompareModes } from './dialect.js'
import { sqliteFailure } from './errors.js'
import { describeTable, entityNotFound, findTable } from './introspect.js'
import { comparedFields, requireFields, scanRows } from './source.js'
import { dropTriggers, installTriggers, loggedCells, triggerSignature, triggersInstalled, type Operation } from './triggers.js'
import type Database from 'better-sqlite3'

/** What change capture needs from the connector: its configuration, its file, and which feeds it has open. */
export interface CaptureContext {
  config: ConnectionConfig
  /** The connector's own connection: installs, acknowledgements and drops write through it. */
  file: SqliteFile
  /** `consumer\u0000entity` of every feed open in this connector. */
  active: Set<string>
}

const CONSUMER_NAME = /^[a-z0-9_]{1,40}$/
const DEFAULT_BATCH = 1000

const TYPES: Record<Operation, SourceChange['type']> = { insert: 'create', update: 'update', delete: 'delete' }

/** Why this connection cannot capture changes, or undefined when it can. */
export function cdcUnavailable(path: string): string | undefined {
  if (path === MEMORY) {
    return 'an in-memory database (sqlite::memory:) lives only inside one connection, so no change feed can read it; use a database file'
  }
  // Capture writes triggers and its change log into the file, and WAL files beside it.
  for (const target of [path, dirname(path)]) {
    if (!existsSync(target)) continue
    try {
      accessSync(target, constants.W_OK)
    } catch {
      return `${target} is not writable, and change capture installs triggers and a change log in the database (and WAL files beside it); give this user write access`
    }
  }
  return undefined
}

/** What `check` says about change capture on this file. */
export function cdcDetails(db: Database.Database): Record<string, string> {
  const captured = hasChangeLog(db) ? capturedTables(db) : []
  return {
    cdcMethod: 'triggers',
    cdcCaptured: captured.length > 0 ? captured.join(', ') : 'none yet',
    cdcInstalls: `tables ${CHANGE_LOG_TABLES.join(', ')} and AFTER INSERT/UPDATE/DELETE triggers _syncline_<table>_insert|update|delete on each captured table`,
  }
}

/**
 * Open a change feed on a table for a consumer: installs the change log and
 * the table's triggers where missing (idempotent, safe with several
 * processes), registers or checks the consumer's position, and resolves once
 * every later commit is captured.
 */
export async function openSqliteChangeFeed(ctx: CaptureContext, entity: string, opts: ChangeFeedOptions): Promise<ChangeFeed> {
  throwIfAborted(opts.signal)
  const { config, file } = ctx
  const unavailable = cdcUnavailable(file.path)
  if (unavailable) throw notReady(config.name, `Connection '${config.name}' cannot capture changes: ${unavailable}.`)
  if (!CONSUMER_NAME.test(opts.consumer)) {
    throw new SynclineError('PLAN_INVALID', 'config', `Change-feed consumer name '${opts.consumer}' is not valid: use 1 to 40 characters of a-z, 0-9 and _.`)
  }
  const maxBatchSize = opts.maxBatchSize ?? DEFAULT_BATCH
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) throw new RangeError(`maxBatchSize must be a positive integer, not ${maxBatchSize}`)
  const db = file.read()
  const table = findTable(db, entity)
  if (!table) throw entityNotFound(db, entity, config.name, file.path)
  if (table.kind === 'view') {
    throw notReady(config.name, `Connection '${config.name}': '${table.name}' is a view, and SQLite fires no row triggers on views. Capture the tables behind it.`)
  }
  const info = describeTable(db, table)
  const keys = opts.keys ?? info.primaryKey
  if (keys.length === 0) {
    throw new SynclineError('KEY_MISSING', 'config', `SQLite table '${info.name}' has no primary key; give the key fields of its change feed (keys in the plan).`)
  }
  requireFields(info, keys)
  const from = opts.from === undefined ? undefined : parsePosition(config.name, opts.from)

  try {
    writeTransaction(db, () => {
      createChangeLog(db)
      ensureTriggers(db, info)
      if (from === undefined) placeConsumer(db, opts.consumer, info.name, lastSeq(db))
      else checkResumable(db, config.name, opts.consumer, info.name, from)
    })
  } catch (error) {
    if (error instanceof SynclineError) throw error
    throw sqliteFailure(error, `installing change capture on '${info.name}'`)
  }
  return SqliteChangeFeed.open(ctx, info, keys, maxBatchSize, opts, from)
}

/**
 * Forget a consumer: its positions, and for every table no consumer reads
 * any more, its triggers and logged rows; the change-log tables go with the
 * last consumer. Idempotent.
 */
export async function dropSqliteChangeFeed(ctx: CaptureContext, consumer: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
  throwIfAborted(opts.signal)
  if (cdcUnavailable(ctx.file.path) || !ctx.file.exists) return
  const db = ctx.file.read()
  try {
    writeTransaction(db, () => {
      if (!hasChangeLog(db)) return
      for (const entity of removeConsumer(db, consumer)) dropTriggers(db, entity)
      if (!hasConsumers(db)) dropChangeLog(db)
    })
  } catch (error) {
    throw sqliteFailure(error, `dropping change-feed consumer '${consumer}'`)
  }
}

/** Every consumer the file keeps, with its position and unacknowledged rows. */
export async function listSqliteChangeFeeds(ctx: CaptureContext, opts: { signal?: AbortSignal } = {}): Promise<ChangeFeedStatus[]> {
  throwIfAborted(opts.signal)
  if (cdcUnavailable(ctx.file.path) || !ctx.file.exists) return []
  const db = ctx.file.read()
  if (!hasChangeLog(db)) return []
  return consumerStatuses(db).map((s) => ({ ...s, active: ctx.active.has(`${s.consumer}\u0000${s.entity}`) }))
}

/** (Re)install a table's triggers when missing or when its columns changed since they were written. */
function ensureTriggers(db: Database.Database, info: EntityInfo): void {
  const signature = triggerSignature(info)
  if (capturedTable(db, info.name)?.signature === signature && triggersInstalled(db, info.name)) return
  installTriggers(db, info)
  recordCaptured(db, info.name, signature)
}

/** Throws POSITION_LOST unless the consumer can resume after `from` on this table. */
function checkResumable(db: Database.Database, connection: string, consumer: string, entity: string, from: bigint): void {
  const lost = (why: string) =>
    new SynclineError(
      'POSITION_LOST',
      'data',
      `Connection '${connection}': consumer '${consumer}' cannot resume table '${entity}' after position ${from}: ${why}. ` +
        `Open the feed without a position to start again from a snapshot.`,
      { details: { connection, consumer, entity, position: String(from) } },
    )
  if (consumerPosition(db, consumer, entity) === undefined) throw lost('the consumer is not registered on this table (it was dropped, or never read it)')
  const prunedTo = capturedTable(db, entity)?.prunedTo ?? 0n
  if (from < prunedTo) throw lost(`the change log was pruned up to ${prunedTo}, after other consumers acknowledged it`)
  if (from > lastSeq(db)) throw lost(`the change log has no position ${from} yet (was the file replaced?)`)
}

function parsePosition(connection: string, position: Position): bigint {
  if (!/^\d{1,19}$/.test(position)) {
    throw new SynclineError('POSITION_LOST', 'config', `Connection '${connection}': '${position}' is not a SQLite change-log position (a sequence number). Open the feed without a position.`)
  }
  return BigInt(position)
}

function notReady(connection: string, message: string): SynclineError {
  return new SynclineError('CDC_NOT_READY', 'config', message, { details: { connection } })
}

/** One row of the change log as a feed reads it. */
interface LoggedChange {
  seq: bigint
  op: Operation
  new_row: string | null
  old_row: string | null
  committed_at: string
}

/** A feed over one table, reading the log through its own connection. */
class SqliteChangeFeed implements ChangeFeed {
  readonly start: Position
  private position: bigint
  private snapshotState: 'open' | 'read' | 'none'
  private iterated = false
  private closed = false
  private info: EntityInfo
  private schemaVersion: bigint
  private readonly waker: ChangeWaker
  private readonly activeKey: string
  private select: Database.Statement | undefined

  private constructor(
    private readonly ctx: CaptureContext,
    private readonly own: SqliteFile,
    private readonly db: Database.Database,
    info: EntityInfo,
    private readonly keys: string[],
    private readonly maxBatchSize: number,
    private readonly opts: ChangeFeedOptions,
    start: bigint,
    snapshotOpen: boolean,
  ) {
    this.info = info
    this.position = start
    this.start = String(start)
    this.snapshotState = snapshotOpen ? 'open' : 'none'
    this.schemaVersion = this.readSchemaVersion()
    this.waker = new ChangeWaker(own.path, db)
    this.activeKey = `${opts.consumer}\u0000${info.name}`
    ctx.active.add(this.activeKey)
  }

  /** Open the feed's connection; without `from`, begin the snapshot's read transaction and read `start` in it. */
  static open(ctx: CaptureContext, info: EntityInfo, keys: string[], maxBatchSize: number, opts: ChangeFeedOptions, from: bigint | undefined): SqliteChangeFeed {
    const own = new SqliteFile(ctx.config)
    const db = own.read()
    try {
      if (from !== undefined) return new SqliteChangeFeed(ctx, own, db, info, keys, maxBatchSize, opts, from, false)
      db.exec('BEGIN')
      // The first read of the transaction fixes its snapshot: the table as of this sequence number.
      const start = lastSeq(db)
      return new SqliteChangeFeed(ctx, own, db, describeTable(db, findTable(db, info.name)!), keys, maxBatchSize, opts, start, true)
    } catch (error) {
      own.close()
      throw sqliteFailure(error, `opening a change feed on '${info.name}'`)
    }
  }

  snapshot(opts: Omit<ScanOptions, 'cursor' | 'after'>): AsyncIterable<Row[]> {
    if (this.snapshotState !== 'open' || this.iterated || this.closed) {
      const why = this.snapshotState === 'none' ? 'it was opened from a position' : this.closed ? 'it is closed' : 'its snapshot was read already or changes() has begun'
      throw new SynclineError('INTERNAL', 'internal', `The change feed on '${this.info.name}' has no snapshot to read: ${why}.`)
    }
    this.snapshotState = 'read'
    return this.readSnapshot(opts)
  }

  private async *readSnapshot(opts: Omit<ScanOptions, 'cursor' | 'after'>): AsyncGenerator<Row[]> {
    try {
      const modes = new CompareModes().of(this.db, this.info, comparedFields(opts), true)
      for await (const rows of scanRows({ db: this.db, entity: this.info, modes }, opts)) {
        yield rows
        // Closed while the consumer held the batch: the connection is gone, read no further page.
        if (this.closed) return
      }
    } catch (error) {
      throw sqliteFailure(error, `reading the snapshot of '${this.info.name}'`)
    } finally {
      this.endSnapshot()
    }
  }

  /** End the snapshot's read transaction, so the WAL can be checkpointed again. */
  private endSnapshot(): void {
    if (this.db.open && this.db.inTransaction) this.db.exec('COMMIT')
  }

  changes(): AsyncIterable<ChangeBatch> {
    if (this.iterated) throw new SynclineError('INTERNAL', 'internal', `The change feed on '${this.info.name}' is iterated already; iterate changes() once.`)
    this.iterated = true
    return this.stream()
  }

  private async *stream(): AsyncGenerator<ChangeBatch> {
    this.endSnapshot()
    const signal = this.opts.signal
    // Before the first read: a commit between a read that finds nothing and the wait after it still wakes it.
    this.waker.arm()
    try {
      while (!this.closed && !signal?.aborted) {
        const batch = this.readBatch()
        if (batch) {
          yield batch
          continue
        }
        await this.waker.wait(signal)
      }
    } finally {
      this.waker.stop()
    }
  }

  /** The next batch after the current position, or undefined when the log has nothing new for this table. */
  private readBatch(): ChangeBatch | undefined {
    const db = this.db
    try {
      this.refreshSchema()
      this.checkStillServed()
      this.select ??= db.prepare(`SELECT seq, op, new_row, old_row, committed_at FROM ${CHANGES_TABLE} WHERE entity = ? AND seq > ? ORDER BY seq LIMIT ?`)
      const rows = this.select.all(this.info.name, this.position, BigInt(this.maxBatchSize)) as LoggedChange[]
      if (rows.length === 0) return undefined
      const decode = rowDecoder(this.info.name, this.info.fields)
      const changes = rows.map((row) => this.toChange(row, decode))
      this.position = rows[rows.length - 1]!.seq
      return { changes, position: String(this.position) }
    } catch (error) {
      if (error instanceof SynclineError) throw error
      throw sqliteFailure(error, `reading the change log of '${this.info.name}'`)
    }
  }

  private toChange(row: LoggedChange, decode: (cells: readonly unknown[]) => Row): SourceChange {
    const record = row.new_row === null ? undefined : decode(loggedCells(row.new_row, this.info))
    const before = row.old_row === null ? undefined : decode(loggedCells(row.old_row, this.info))
    const key = keyOf((record ?? before)!, this.keys)
    const change: SourceChange = { type: TYPES[row.op], key, position: String(row.seq), committedAt: row.committed_at }
    if (record) change.record = record
    if (before) {
      change.before = before
      const previousKey = keyOf(before, this.keys)
      if (record && !sameKey(this.keyFields(), previousKey, key)) change.previousKey = previousKey
    }
    return change
  }

  private keyFields(): FieldInfo[] {
    return requireFields(this.info, this.keys)
  }

  /**
   * After a schema change (ALTER TABLE ADD COLUMN…) describe the table
   * again, and rewrite its triggers if they no longer encode every column.
   */
  private refreshSchema(): void {
    const version = this.readSchemaVersion()
    if (version === this.schemaVersion) return
    this.schemaVersion = version
    const table = findTable(this.db, this.info.name)
    if (!table) throw entityNotFound(this.db, this.info.name, this.ctx.config.name, this.own.path)
    const info = describeTable(this.db, table)
    requireFields(info, this.keys)
    this.info = info
    const writer = this.ctx.file.write()
    writeTransaction(writer, () => {
      if (hasChangeLog(writer)) ensureTriggers(writer, describeTable(writer, findTable(writer, info.name)!))
    })
  }

  /** A consumer dropped while its feed reads, or pruned past, can no longer be served. */
  private checkStillServed(): void {
    const consumer = this.opts.consumer
    if (!hasChangeLog(this.db) || consumerPosition(this.db, consumer, this.info.name) === undefined) {
      throw new SynclineError(
        'POSITION_LOST',
        'data',
        `Connection '${this.ctx.config.name}': consumer '${consumer}' was dropped while its feed on '${this.info.name}' was reading. Open the feed without a position to start again.`,
        { details: { connection: this.ctx.config.name, consumer, entity: this.info.name } },
      )
    }
    const prunedTo = capturedTable(this.db, this.info.name)?.prunedTo ?? 0n
    if (this.position < prunedTo) {
      throw new SynclineError(
        'POSITION_LOST',
        'data',
        `Connection '${this.ctx.config.name}': the change log of '${this.info.name}' was pruned up to ${prunedTo}, past consumer '${consumer}' at ${this.position}. Open the feed without a position to start again.`,
        { details: { connection: this.ctx.config.name, consumer, entity: this.info.name, position: String(this.position) } },
      )
    }
  }

  private readSchemaVersion(): bigint {
    return this.db.pragma('schema_version', { simple: true }) as bigint
  }

  async ack(position: Position): Promise<void> {
    const seq = parsePosition(this.ctx.config.name, position)
    const db = this.ctx.file.write()
    let registered: boolean
    try {
      registered = writeTransaction(db, () => hasChangeLog(db) && acknowledge(db, this.opts.consumer, this.info.name, seq))
    } catch (error) {
      throw sqliteFailure(error, `acknowledging position ${position} of '${this.info.name}'`)
    }
    if (!registered) {
      throw new SynclineError('POSITION_LOST', 'data', `Connection '${this.ctx.config.name}': consumer '${this.opts.consumer}' was dropped; its position cannot be acknowledged.`, {
        details: { connection: this.ctx.config.name, consumer: this.opts.consumer, entity: this.info.name },
      })
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.ctx.active.delete(this.activeKey)
    this.waker.stop()
    // better-sqlite3 runs each call to completion, so no statement of the stream is mid-flight here.
    this.own.close()
  }
}

function sameKey(fields: readonly FieldInfo[], a: KeyValues, b: KeyValues): boolean {
  return compareKeys(fields.map((f) => f.type), a, b) === 0
}
