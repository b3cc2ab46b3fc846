/**
 * The SQLite connector: wiring of the file, introspection, reads and writes.
 *
 * better-sqlite3 is synchronous, so every call runs to completion on the
 * event loop; scans query one batch at a time so nothing stays open between
 * batches. The file is opened on first use with WAL and a busy timeout.
 */
import { SynclineError, throwIfAborted } from '../../errors.js'
import type { EntityInfo, FieldInfo, ForeignKeyInfo, KeyValues, Row } from '../../values/canonical.js'
import type { ChangeFeed, ChangeFeedOptions, ChangeFeedStatus } from '../change-feed.js'
import type { ApplyBatch, ApplyOptions, ApplyResult, BulkExport, BulkExportOptions, Capabilities, CheckReport, ConnectionConfig, Connector, DiscoverOptions, Filter, KeyHash, OrphanRows, PhysicalIdentity, RangeChecksum, RangeChecksumOptions, RangeSplitOptions, ScanOptions, TimestampSpellings } from '../connector.js'
import { checksumByScan, hashesByScan, splitByScan } from '../sql/scan-checksum.js'
import { fileIdentity } from '../file-identity.js'
import { SqliteFile, BUSY_TIMEOUT_MS, MEMORY } from './database.js'
import { sqliteFailure } from './errors.js'
import { CompareModes } from './dialect.js'
import { describeTable, entityNotFound, findTable, listTables, type TableRef } from './introspect.js'
import { addColumns, applyBatch, createTable, tableNameOf } from './sink.js'
import { findOrphans } from './foreign-keys.js'
import { SQLITE_BULK_FORMATS, bulkExport } from './bulk.js'
import { comparedFields, comparedFilterFields, countRows, lookupRows, scanRows } from './source.js'
import { sqliteTimestampSpellings } from './timestamp-spellings.js'
import { cdcDetails, cdcUnavailable, dropSqliteChangeFeed, listSqliteChangeFeeds, openSqliteChangeFeed, type CaptureContext } from './change-capture.js'
import type Database from 'better-sqlite3'

/** What the SQLite connector can do. */
export const SQLITE_CAPABILITIES: Capabilities = { cdc: true, transactions: true, bulkExport: true, bulkLoad: false, orderedKeyScan: true, staging: false, rangeChecksum: true }

/**
 * A connector for a SQLite file.
 * @example createSqliteConnector({ name: 'shop', url: 'sqlite:./shop.db', baseDir: '/plans' })
 */
export function createSqliteConnector(config: ConnectionConfig): Connector {
  return new SqliteConnector(config)
}

class SqliteConnector implements Connector {
  readonly name: string
  readonly kind = 'sqlite'
  readonly capabilities = SQLITE_CAPABILITIES
  readonly foreignKeyChecksOff = 'PRAGMA foreign_keys = OFF on syncline\'s own connection around each batch\'s transaction, ON again right after; ON DELETE actions do not run meanwhile'
  readonly bulkFormats = SQLITE_BULK_FORMATS
  private readonly file: SqliteFile
  private readonly modes = new CompareModes()
  private readonly capture: CaptureContext

  constructor(config: ConnectionConfig) {
    this.name = config.name
    this.file = new SqliteFile(config)
    this.capture = { config, file: this.file, active: new Set() }
  }

  async check(opts: { signal?: AbortSignal } = {}): Promise<CheckReport> {
    throwIfAborted(opts.signal)
    const db = this.file.read()
    const version = db.prepare('SELECT sqlite_version()').pluck().get() as string
    const unavailable = cdcUnavailable(this.file.path)
    return {
      connection: this.name,
      kind: this.kind,
      version,
      capabilities: this.capabilities,
      cdc: unavailable ? { ready: false, reason: unavailable } : { ready: true },
      details: {
        path: this.file.path,
        journalMode: String(db.pragma('journal_mode', { simple: true })),
        busyTimeoutMs: BUSY_TIMEOUT_MS,
        foreignKeys: true,
        ...(unavailable ? {} : cdcDetails(db)),
      },
    }
  }

  async bulkExport(entity: string, opts: BulkExportOptions): Promise<BulkExport | undefined> {
    if (!(SQLITE_BULK_FORMATS as readonly string[]).includes(opts.format)) return undefined
    const db = this.file.read()
    const info = this.entityInfo(db, entity)
    if (this.file.path === MEMORY) return bulkExport(db, info, opts)
    // A connection of the export's own reads a file table faster (see bulk.ts); `:memory:` is one connection's alone.
    // The shared connection's page cache (2 MB, database.ts, which counting the rows filled) is not read meanwhile: freed, it lowers the peak RSS.
    db.pragma('shrink_memory')
    return bulkExport(db, info, opts, new SqliteFile(this.capture.config))
  }

  async discover(entity?: string, opts: DiscoverOptions = {}): Promise<EntityInfo[]> {
    // A destination file that does not exist yet holds no such entity; a sync
    // with create: true makes both on its first write.
    if (entity !== undefined && !this.file.exists) return []
    const db = this.file.read()
    if (entity === undefined) return listTables(db).flatMap((t) => this.describeListed(db, t, opts))
    const table = findTable(db, entity)
    return table ? [describeTable(db, table)] : []
  }

  /**
   * A listed table described, or nothing when it cannot be (a view over a
   * dropped table) and `opts.onUnreadable` takes the error.
   */
  private describeListed(db: Database.Database, table: TableRef, opts: DiscoverOptions): EntityInfo[] {
    try {
      return [describeTable(db, table)]
    } catch (error) {
      const unreadable = new SynclineError(
        'ENTITY_UNREADABLE',
        'config',
        `Connection '${this.name}': the SQLite ${table.kind} '${table.name}' cannot be described: ${(error as Error).message}. Fix or drop the ${table.kind}.`,
        { cause: error, details: { connection: this.name, entity: table.name } },
      )
      if (!opts.onUnreadable) throw unreadable
      opts.onUnreadable(table.name, unreadable)
      return []
    }
  }

  async describe(entity: string): Promise<EntityInfo> {
    return this.entityInfo(this.file.read(), entity)
  }

  async count(entity: string, filters: Filter[] = []): Promise<number> {
    const db = this.file.read()
    const info = this.entityInfo(db, entity)
    try {
      return countRows({ db, entity: info, modes: this.modes.of(db, info, comparedFilterFields(filters)) }, filters)
    } catch (error) {
      throw sqliteFailure(error, `counting '${info.name}'`)
    }
  }

  scan(entity: string, opts: ScanOptions): AsyncIterable<Row[]> {
    return this.scanBatches(entity, opts)
  }

  /** Hashed in JavaScript over decoded rows (src/connectors/sql/scan-checksum.ts). */
  rangeChecksum(entity: string, opts: RangeChecksumOptions): Promise<RangeChecksum> {
    return checksumByScan((e, o) => this.scan(e, o), entity, opts)
  }

  rangeHashes(entity: string, opts: RangeChecksumOptions): Promise<KeyHash[]> {
    return hashesByScan((e, o) => this.scan(e, o), entity, opts)
  }

  rangeSplit(entity: string, opts: RangeSplitOptions): Promise<KeyValues[]> {
    return splitByScan((e, o) => this.scan(e, o), entity, opts)
  }

  private async *scanBatches(entity: string, opts: ScanOptions): AsyncGenerator<Row[]> {
    throwIfAborted(opts.signal)
    const db = this.file.read()
    const info = this.entityInfo(db, entity)
    try {
      // A scan re-checks how stored values compare: it may run long and read everything.
      const modes = this.modes.of(db, info, comparedFields(opts), true)
      yield* scanRows({ db, entity: info, modes }, opts)
    } catch (error) {
      throw sqliteFailure(error, `reading '${info.name}'`)
    }
  }

  async timestampSpellings(entity: string, field: string, opts: { signal?: AbortSignal } = {}): Promise<TimestampSpellings | undefined> {
    throwIfAborted(opts.signal)
    const db = this.file.read()
    const info = this.entityInfo(db, entity)
    try {
      return sqliteTimestampSpellings(db, info.name, field)
    } catch (error) {
      throw sqliteFailure(error, `reading the spellings of '${info.name}'.'${field}'`)
    }
  }

  async lookup(entity: string, keys: string[], values: KeyValues[], fields: string[], opts: { signal?: AbortSignal } = {}): Promise<Row[]> {
    throwIfAborted(opts.signal)
    const db = this.file.read()
    const info = this.entityInfo(db, entity)
    try {
      return lookupRows({ db, entity: info, modes: this.modes.of(db, info, keys) }, keys, values, fields)
    } catch (error) {
      throw sqliteFailure(error, `looking up rows of '${info.name}'`)
    }
  }

  async findOrphans(entity: string, foreignKey: ForeignKeyInfo, opts: { limit: number; signal?: AbortSignal }): Promise<OrphanRows> {
    throwIfAborted(opts.signal)
    const db = this.file.read()
    const child = this.entityInfo(db, entity)
    const parent = this.entityInfo(db, foreignKey.references.entity)
    try {
      return findOrphans(db, child, parent, foreignKey, opts.limit)
    } catch (error) {
      throw sqliteFailure(error, `checking the foreign key (${foreignKey.fields.join(', ')}) of '${child.name}'`)
    }
  }

  async apply(entity: string, batch: ApplyBatch, opts: ApplyOptions): Promise<ApplyResult> {
    throwIfAborted(opts.signal)
    const db = this.file.write()
    const info = this.entityInfo(db, entity)
    try {
      return applyBatch(db, info, batch, opts)
    } catch (error) {
      throw sqliteFailure(error, `writing to '${info.name}'`)
    }
  }

  async ensureEntity(entity: string, fields: FieldInfo[], keys: string[]): Promise<void> {
    const db = this.file.write()
    if (findTable(db, entity)) return
    try {
      createTable(db, tableNameOf(entity), fields, keys)
    } catch (error) {
      throw sqliteFailure(error, `creating table '${entity}'`)
    }
  }

  async addFields(entity: string, fields: FieldInfo[]): Promise<void> {
    const db = this.file.write()
    const table = findTable(db, entity)
    if (!table) throw new SynclineError('ENTITY_NOT_FOUND', 'config', `Cannot add fields to SQLite table '${entity}': no such table.`)
    try {
      addColumns(db, table.name, fields)
    } catch (error) {
      throw sqliteFailure(error, `adding fields to table '${table.name}'`)
    }
  }

  async physicalIdentity(entity: string, opts: { signal?: AbortSignal } = {}): Promise<PhysicalIdentity | undefined> {
    throwIfAborted(opts.signal)
    // Every connection to :memory: has a database of its own.
    if (this.file.path === MEMORY || !this.file.exists) return undefined
    const file = fileIdentity(this.file.path)
    const table = file && findTable(this.file.read(), entity)
    if (!file || !table) return undefined
    // SQLite folds ASCII letters in table names (only those): `Items` and `items` are one table.
    const folded = table.name.replace(/[A-Z]/g, (c) => c.toLowerCase())
    return { key: JSON.stringify(['sqlite', file.key, folded]), label: `table ${table.name} in ${file.realPath}` }
  }

  openChangeFeed(entity: string, opts: ChangeFeedOptions): Promise<ChangeFeed> {
    return openSqliteChangeFeed(this.capture, entity, opts)
  }

  dropChangeFeed(consumer: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    return dropSqliteChangeFeed(this.capture, consumer, opts)
  }

  listChangeFeeds(opts: { signal?: AbortSignal } = {}): Promise<ChangeFeedStatus[]> {
    return listSqliteChangeFeeds(this.capture, opts)
  }

  async close(): Promise<void> {
    this.file.close()
  }

  private entityInfo(db: Database.Database, entity: string): EntityInfo {
    const table = findTable(db, entity)
    if (!table) throw entityNotFound(db, entity, this.name, this.file.path)
    return describeTable(db, table)
  }
}
