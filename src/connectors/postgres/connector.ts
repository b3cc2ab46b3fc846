/**
 * The PostgreSQL connector: wiring of the pool, catalog, source and sink.
 *
 * @example
 * const warehouse = createPostgresConnector({ name: 'warehouse', url: 'postgres://sync@127.0.0.1:5432/warehouse', password })
 * for await (const rows of warehouse.scan('public.customers', { fields: ['id', 'email'], keys: ['id'], batchSize: 5000 })) …
 * await warehouse.close()
 */
import type pg from 'pg'
import { SynclineError, throwIfAborted } from '../../errors.js'
import type { EntityInfo, FieldInfo, ForeignKeyInfo, KeyValues, Row } from '../../values/canonical.js'
import type { ChangeFeed, ChangeFeedOptions, ChangeFeedStatus } from '../change-feed.js'
import type { ApplyBatch, ApplyOptions, ApplyResult, BulkExport, BulkExportOptions, BulkImportOptions, Capabilities, CheckReport, ConnectionConfig, Connector, Filter, KeyHash, KeyHashBatch, OrphanRows, PhysicalIdentity, RangeChecksum, RangeChecksumOptions, RangeSplitOptions, ScanOptions, TimestampSpellings } from '../connector.js'
import { urlScheme } from '../registry.js'
import { TableCache } from '../sql/table-cache.js'
import { dropChangeFeed, listChangeFeeds, openChangeFeed, type CaptureContext } from './change-capture.js'
import { checkServer, type ServerReport } from './check.js'
import { addColumnsSql, createTable } from './create-table.js'
import { classifyPgError, type ErrorContext } from './errors.js'
import { physicalIdentity } from './identity.js'
import { entityNotFound, findTable, loadTables, type PgTable } from './introspect.js'
import { createPool, displayUrl, endpointOf, type Endpoint, type PoolSettings } from './pool.js'
import { applyBatch } from './sink.js'
import { findOrphans } from './foreign-keys.js'
import { PG_BULK_FORMATS, bulkExport, bulkImport } from './bulk.js'
import { CHECKSUM_HASHES, rangeChecksum, rangeHashes, rangeSplit } from './checksum.js'
import { streamHashes } from './checksum-stream.js'
import { countRows, lookupRows, oldestOpenTransactionStart, scanRows } from './source.js'
import { timestampSpellings } from './timestamp-spellings.js'
import { TriggerCapture } from './trigger-capture.js'

/** What the PostgreSQL connector can do (change capture: change-capture.ts). */
export const POSTGRES_CAPABILITIES: Capabilities = { cdc: true, transactions: true, bulkExport: true, bulkLoad: true, orderedKeyScan: true, staging: false, rangeChecksum: true }



class PostgresConnector implements Connector {
  readonly kind = 'postgres'
  readonly capabilities = POSTGRES_CAPABILITIES
  readonly foreignKeyChecksOff = 'SET LOCAL session_replication_role = replica in each writing transaction (a superuser, or PostgreSQL 15+ GRANT SET ON PARAMETER session_replication_role); it also skips ordinary triggers and ON DELETE actions'
  readonly bulkFormats = PG_BULK_FORMATS
  readonly checksumHashes = CHECKSUM_HASHES
  readonly name: string
  readonly endpoint: Endpoint
  #pool: pg.Pool | undefined
  readonly #tables = new TableCache<PgTable>(
    (entity) => this.#describe(entity),
    (table) => table.info.name,
  )
  readonly #context: CaptureContext

  constructor(
    private readonly config: ConnectionConfig,
    private readonly settings: PoolSettings,
  ) {
    this.name = config.name
    this.endpoint = endpointOf(config.url)
    const context = {
      pool: () => this.#getPool(),
      table: (entity: string) => this.#tables.get(entity),
      errorContext: (entity?: string) => this.#errorContext(entity),
      config,
      openFeeds: new Set<ChangeFeed>(),
    }
    const refreshTable = (entity: string) => {
      this.#tables.forget(entity)
      return this.#tables.get(entity)
    }
    this.#context = { ...context, triggers: new TriggerCapture(config, context, this.endpoint, refreshTable) }
  }

  #getPool(): pg.Pool {
    this.#pool ??= createPool(this.config, this.settings)
    return this.#pool
  }

  #errorContext(entity?: string): ErrorContext {
    return { connection: this.name, endpoint: this.endpoint, ...(entity === undefined ? {} : { entity }) }
  }

  #where(): string {
    return `connection '${this.name}' (${this.endpoint.label})`
  }

  async #describe(entity: string): Promise<PgTable> {
    const pool = this.#getPool()
    let table: PgTable | undefined
    try {
      table = await findTable(pool, entity)
    } catch (error) {
      throw classifyPgError(error, this.#errorContext(entity))
    }
    if (!table) throw await entityNotFound(pool, entity, this.#where())
    return table
  }


  async bulkExport(entity: string, opts: BulkExportOptions): Promise<BulkExport | undefined> {
    if (!PG_BULK_FORMATS.includes(opts.format)) return undefined
    return this.#tables.withTable(entity, () => bulkExport(this.#context, entity, opts))
  }

  async bulkImport(entity: string, data: BulkExport, opts: BulkImportOptions): Promise<number | undefined> {
    return bulkImport(this.#context, entity, data, opts)
  }

  async check(opts: { signal?: AbortSignal } = {}): Promise<CheckReport> {
    throwIfAborted(opts.signal)
    let report: ServerReport | undefined
    try {
      report = await checkServer(this.#getPool())
    } catch (error) {
      throw classifyPgError(error, this.#errorContext())
    }
    if (!report) throw new SynclineError('INTERNAL', 'internal', `PostgreSQL at ${this.#where()} returned no settings.`)
    if (this.config.cdc === 'triggers') {
      try {
        const triggers = await this.#context.triggers.check()
        report = { ...report, cdc: triggers.cdc, details: { ...report.details, ...triggers.details } }
      } catch (error) {
        throw classifyPgError(error, this.#errorContext())
      }
    }
    return {
      connection: this.name,
      kind: this.kind,
      version: `PostgreSQL ${report.version}`,
      capabilities: this.capabilities,
      cdc: report.cdc,
      details: { url: displayUrl(this.config.url), ...report.details },
    }
  }

  async discover(entity?: string): Promise<EntityInfo[]> {
    if (entity !== undefined) {
      try {
        return [await this.describe(entity)]
      } catch (error) {
        if (error instanceof SynclineError && error.code === 'ENTITY_NOT_FOUND') return []
        throw error
      }
    }
    try {
      return (await loadTables(this.#getPool())).map((t) => t.info)
    } catch (error) {
      throw classifyPgError(error, this.#errorContext())
    }
  }

  async describe(entity: string): Promise<EntityInfo> {
    this.#tables.forget(entity)
    return (await this.#tables.get(entity)).info
  }

  count(entity: string, filters?: Filter[]): Promise<number | undefined> {
    return this.#tables.withTable(entity, () => countRows(this.#context, entity, filters))
  }

  timestampSpellings(entity: string, field: string): Promise<TimestampSpellings | undefined> {
    return this.#tables.withTable(entity, () => timestampSpellings(this.#context, entity, field))
  }

  scan(entity: string, opts: ScanOptions): AsyncIterable<Row[]> {
    return scanRows(this.#context, entity, opts)
  }

  rangeChecksum(entity: string, opts: RangeChecksumOptions): Promise<RangeChecksum> {
    return this.#tables.withTable(entity, () => rangeChecksum(this.#context, entity, opts))
  }

  rangeHashes(entity: string, opts: RangeChecksumOptions): Promise<KeyHash[]> {
    return this.#tables.withTable(entity, () => rangeHashes(this.#context, entity, opts))
  }

  rangeSplit(entity: string, opts: RangeSplitOptions): Promise<KeyValues[]> {
    return this.#tables.withTable(entity, () => rangeSplit(this.#context, entity, opts))
  }

  streamHashes(entity: string, opts: RangeChecksumOptions): AsyncIterable<KeyHashBatch> {
    return streamHashes(this.#context, entity, opts)
  }

  lookup(entity: string, keys: string[], values: KeyValues[], fields: string[], opts: { signal?: AbortSignal } = {}): Promise<Row[]> {
    return this.#tables.withTable(entity, () => lookupRows(this.#context, entity, keys, values, fields, opts.signal))
  }

  apply(entity: string, batch: ApplyBatch, opts: ApplyOptions): Promise<ApplyResult> {
    return this.#tables.withTable(entity, () => applyBatch(this.#context, entity, batch, opts))
  }

  findOrphans(entity: string, foreignKey: ForeignKeyInfo, opts: { limit: number; signal?: AbortSignal }): Promise<OrphanRows> {
    throwIfAborted(opts.signal)
    return this.#tables.withTable(entity, () => findOrphans(this.#context, entity, foreignKey, opts.limit))
  }

  async ensureEntity(entity: string, fields: FieldInfo[], keys: string[]): Promise<void> {
    const pool = this.#getPool()
    try {
      if (await findTable(pool, entity)) return
      await createTable(pool, entity, fields, keys)
    } catch (error) {
      throw classifyPgError(error, this.#errorContext(entity))
    } finally {
      this.#tables.clear()
    }
  }

  async addFields(entity: string, fields: FieldInfo[]): Promise<void> {
    const pool = this.#getPool()
    try {
      const table = await findTable(pool, entity)
      if (!table) throw new SynclineError('ENTITY_NOT_FOUND', 'config', `Cannot add fields to '${entity}': no such table.`)
      if (fields.length > 0) await pool.query(addColumnsSql(table.schema, table.table, fields))
    } catch (error) {
      throw classifyPgError(error, this.#errorContext(entity))
    } finally {
      this.#tables.clear()
    }
  }

  oldestOpenTransactionStart(opts: { signal?: AbortSignal } = {}): Promise<string | undefined> {
    throwIfAborted(opts.signal)
    return oldestOpenTransactionStart(this.#context)
  }

  physicalIdentity(entity: string, opts: { signal?: AbortSignal } = {}): Promise<PhysicalIdentity | undefined> {
    throwIfAborted(opts.signal)
    return physicalIdentity(this.#context, entity)
  }

  openChangeFeed(entity: string, opts: ChangeFeedOptions): Promise<ChangeFeed> {
    return this.#tables.withTable(entity, () => openChangeFeed(this.#context, entity, opts))
  }

  dropChangeFeed(consumer: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    return dropChangeFeed(this.#context, consumer, opts.signal)
  }

  listChangeFeeds(opts: { signal?: AbortSignal } = {}): Promise<ChangeFeedStatus[]> {
    throwIfAborted(opts.signal)
    return listChangeFeeds(this.#context)
  }

  async close(): Promise<void> {
    await Promise.all([...this.#context.openFeeds].map((feed) => feed.close()))
    const pool = this.#pool
    this.#pool = undefined
    this.#tables.clear()
    if (pool) await pool.end()
  }
}

/**
 * The connector for a `postgres://` or `postgresql://` connection. Nothing
 * connects until the first call; the pool holds up to 10 connections.
 * `config.password`, when given, overrides a password in the URL.
 */
export function createPostgresConnector(config: ConnectionConfig, settings: PoolSettings = {}): Connector {
  const scheme = urlScheme(config.url)
  if (scheme !== 'postgres' && scheme !== 'postgresql') {
    throw new SynclineError('PLAN_INVALID', 'config', `Connection '${config.name}': ${displayUrl(config.url)} is not a PostgreSQL URL. Use postgres://user@host:5432/database.`)
  }
  return new PostgresConnector(config, settings)
}
