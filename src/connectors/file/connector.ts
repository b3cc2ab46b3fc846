/**
 * The file connector: a directory of CSV (`csv:DIR`) or NDJSON
 * (`ndjson:DIR`) files, one entity per file (`customers` ↔
 * `DIR/customers.csv`), typed by a sidecar schema (`customers.schema.json`)
 * or by inference.
 *
 * Files are not databases: they cannot be read in key order, filtered or
 * updated in place. So each file is loaded, on first use, into a private
 * SQLite database (staging.ts, staged-entities.ts), and reads (source.ts)
 * and writes (sink.ts) go through the SQLite connector's code there. A
 * destination file changes only at `commit`, atomically, at the end of a
 * run; a failed run leaves it intact.
 */
import { accessSync, constants, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { ConnectionError, SynclineError, throwIfAborted } from '../../errors.js'
import type { EntityInfo, FieldInfo, KeyValues, Row } from '../../values/canonical.js'
import type { ApplyBatch, ApplyOptions, ApplyResult, Capabilities, CheckReport, ConnectionConfig, Connector, DiscoverOptions, Filter, PhysicalIdentity, ScanOptions, TimestampSpellings } from '../connector.js'
import { fileIdentity } from '../file-identity.js'
import { entityNotFound } from './errors.js'
import { formatOf } from './formats.js'
import { dataPath, parseFileUrl, type FileLocation } from './location.js'
import type { FileSchema } from './sidecar.js'
import { FileSink } from './sink.js'
import { FileSource } from './source.js'
import { StagedEntities } from './staged-entities.js'

/**
 * What the file connector can do: writes are atomic at commit (one rename),
 * upserts and ordered key scans run in the staging database.
 */
export const FILE_CAPABILITIES: Capabilities = { cdc: false, transactions: true, bulkExport: false, bulkLoad: false, orderedKeyScan: true, staging: true, rangeChecksum: false }

/**
 * A connector for a directory of CSV or NDJSON files.
 * @example createFileConnector({ name: 'exports', url: 'csv:./exports?delimiter=;', baseDir: '/plans' })
 */
export function createFileConnector(config: ConnectionConfig): Connector {
  return new FileConnector(config)
}

class FileConnector implements Connector {
  readonly name: string
  readonly kind: string
  readonly capabilities = FILE_CAPABILITIES
  private readonly location: FileLocation
  private readonly entities: StagedEntities
  private readonly source: FileSource
  private readonly sink: FileSink

  constructor(config: ConnectionConfig) {
    this.name = config.name
    try {
      this.location = parseFileUrl(config.url, config.baseDir)
    } catch (error) {
      throw new SynclineError('PLAN_INVALID', 'config', `Connection '${config.name}': ${(error as Error).message}`, { cause: error })
    }
    this.kind = this.location.kind
    this.entities = new StagedEntities(this.location, formatOf(this.location))
    this.source = new FileSource(this.name, this.entities)
    this.sink = new FileSink(this.name, this.entities, this.source)
  }

  async check(opts: { signal?: AbortSignal } = {}): Promise<CheckReport> {
    throwIfAborted(opts.signal)
    const { dir, kind } = this.location
    const stats = statSync(dir, { throwIfNoEntry: false })
    if (stats && !stats.isDirectory()) {
      throw new ConnectionError('CONNECTION_REFUSED', 'config', `Connection '${this.name}': ${dir} is a file, not a directory. A ${kind}: URL names a directory holding one file per entity.`, {
        details: { connection: this.name, path: dir },
      })
    }
    const writable = stats ? canWrite(dir) : canCreate(dir)
    if (!stats && !writable) {
      throw new ConnectionError(
        'CONNECTION_REFUSED',
        'config',
        `Connection '${this.name}': the directory ${dir} does not exist and cannot be created here. Fix the path in the connection URL, or create the directory.`,
        { details: { connection: this.name, path: dir } },
      )
    }
    const details: CheckReport['details'] = { path: dir, exists: stats !== undefined, writable, entities: stats ? this.entities.names().length : 0 }
    if (kind === 'csv') details.delimiter = this.location.delimiter === '\t' ? 'tab' : this.location.delimiter
    return {
      connection: this.name,
      kind,
      version: kind === 'csv' ? 'RFC 4180' : 'spec 1.0.0',
      capabilities: this.capabilities,
      cdc: { ready: false, reason: 'files have no change capture; use mode full, or incremental with a cursor field' },
      details,
    }
  }

  async discover(entity?: string, opts: DiscoverOptions = {}): Promise<EntityInfo[]> {
    if (entity !== undefined) {
      const name = this.entities.resolve(entity)
      const found = name === undefined ? undefined : await this.source.schemaOf(name)
      return found && name !== undefined ? [entityInfo(name, found.schema)] : []
    }
    const out: EntityInfo[] = []
    for (const name of this.entities.names()) {
      try {
        const found = await this.source.schemaOf(name)
        if (found) out.push(entityInfo(name, found.schema))
      } catch (error) {
        // One bad file must not hide the others.
        if (!opts.onUnreadable || !(error instanceof SynclineError)) throw error
        opts.onUnreadable(name, error)
      }
    }
    return out
  }

  async describe(entity: string): Promise<EntityInfo> {
    const name = this.entities.resolve(entity)
    const found = name === undefined ? undefined : await this.source.schemaOf(name)
    if (!found || name === undefined) throw entityNotFound(this.name, this.entities, entity)
    return entityInfo(name, found.schema)
  }

  async count(entity: string, filters: Filter[] = []): Promise<number> {
    return this.source.count(entity, filters)
  }

  async timestampSpellings(entity: string, field: string): Promise<TimestampSpellings | undefined> {
    return this.source.timestampSpellings(entity, field)
  }

  scan(entity: string, opts: ScanOptions): AsyncIterable<Row[]> {
    return this.source.scan(entity, opts)
  }

  async lookup(entity: string, keys: string[], values: KeyValues[], fields: string[], opts: { signal?: AbortSignal } = {}): Promise<Row[]> {
    return this.source.lookup(entity, keys, values, fields, opts)
  }

  async apply(entity: string, batch: ApplyBatch, opts: ApplyOptions): Promise<ApplyResult> {
    return this.sink.apply(entity, batch, opts)
  }

  async commit(entity: string): Promise<void> {
    await this.sink.commit(entity)
  }

  async rollback(entity: string): Promise<void> {
    this.sink.rollback(entity)
  }

  async physicalIdentity(entity: string, opts: { signal?: AbortSignal } = {}): Promise<PhysicalIdentity | undefined> {
    throwIfAborted(opts.signal)
    const name = this.entities.resolve(entity)
    const file = name === undefined ? undefined : fileIdentity(dataPath(this.location, name))
    return file && { key: JSON.stringify(['file', file.key]), label: `file ${file.realPath}` }
  }

  async ensureEntity(entity: string, fields: FieldInfo[], keys: string[]): Promise<void> {
    this.sink.ensureEntity(entity, fields, keys)
  }

  async close(): Promise<void> {
    this.entities.close()
  }
}

/** The entity a file schema describes. */
function entityInfo(name: string, schema: FileSchema): EntityInfo {
  return { name, fields: schema.fields.map((f) => ({ ...f })), primaryKey: [...schema.primaryKey], uniqueKeys: [], foreignKeys: [] }
}

function canWrite(path: string): boolean {
  try {
    accessSync(path, constants.W_OK)
    return true
  } catch {
    return false
  }
}

/** Whether the closest existing ancestor of a missing directory is writable. */
function canCreate(dir: string): boolean {
  let current = dir
  for (;;) {
    const parent = dirname(current)
    const stats = statSync(parent, { throwIfNoEntry: false })
    if (stats) return stats.isDirectory() && canWrite(parent)
    if (parent === current) return false
    current = parent
  }
}
