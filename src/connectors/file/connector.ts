/**
 * The file connector: a directory of CSV (`csv:DIR`) or NDJSON
 * (`ndjson:DIR`) files, one entity per file (`customers` ↔
 * `DIR/customers.csv`), typed by a sidecar schema (`customers.schema.json`)
 * or by inference.
 *
 * Files are not databases: they cannot be read in key order, filtered or
 * updated in place. So each file is loaded, on first use, into a private
 * SQLite database, and reads and writes go through the SQLite connector's
 * code there (file-entities.ts). A destination file changes only at
 * `commit`, atomically, at the end of a run; a failed run leaves it intact.
 */
import { accessSync, constants, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { ConnectionError, didYouMean, closestName, NotFoundError, SynclineError, throwIfAborted } from '../../errors.js'
import type { EntityInfo, FieldInfo, KeyValues, Row } from '../../values/canonical.js'
import type { ApplyBatch, ApplyOptions, ApplyResult, Capabilities, CheckReport, ConnectionConfig, Connector, DiscoverOptions, Filter, PhysicalIdentity, ScanOptions, TimestampSpellings } from '../connector.js'
import { fileIdentity } from '../file-identity.js'
import { applyBatch, comparedFields, comparedFilterFields, countRows, lookupRows, scanRows, sqliteFailure, timestampSpellingSamples } from '../sqlite/staging-database.js'
import { FileEntities, type EntityState } from './file-entities.js'
import { formatOf } from './formats.js'
import { dataPath, entityNameProblem, parseFileUrl, type FileLocation } from './location.js'
import type { FileSchema } from './sidecar.js'

/**
 * What the file connector can do: writes are atomic at commit (one rename),
 * upserts and ordered key scans run in the staging database.
 */
export const FILE_CAPABILITIES: Capabilities = { cdc: false, transactions: true, bulkExport: false, bulkLoad: false, orderedKeyScan: true, staging: true }

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
  private readonly entities: FileEntities

  constructor(config: ConnectionConfig) {
    this.name = config.name
    try {
      this.location = parseFileUrl(config.url, config.baseDir)
    } catch (error) {
      throw new SynclineError('PLAN_INVALID', 'config', `Connection '${config.name}': ${(error as Error).message}`, { cause: error })
    }
    this.kind = this.location.kind
    this.entities = new FileEntities(this.location, formatOf(this.location))
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
      const found = name === undefined ? undefined : await this.entities.schemaOf(name)
      return found && name !== undefined ? [entityInfo(name, found.schema)] : []
    }
    const out: EntityInfo[] = []
    for (const name of this.entities.names()) {
      try {
        const found = await this.entities.schemaOf(name)
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
    const found = name === undefined ? undefined : await this.entities.schemaOf(name)
    if (!found || name === undefined) throw this.notFound(entity)
    return entityInfo(name, found.schema)
  }

  async count(entity: string, filters: Filter[] = []): Promise<number> {
    const state = await this.state(entity)
    const db = this.entities.staging.db
    const info = state.table.info
    try {
      return countRows({ db, entity: info, modes: this.entities.modes.of(db, info, comparedFilterFields(filters)) }, filters)
    } catch (error) {
      throw this.translate(error, state, 'counting')
    }
  }

  async timestampSpellings(entity: string, field: string): Promise<TimestampSpellings | undefined> {
    const state = await this.state(entity)
    try {
      const samples = timestampSpellingSamples(this.entities.staging.db, state.table.info.name, field)
      if (!samples) return undefined
      return { samples, fix: `write every '${field}' value of ${entity} in one spelling (e.g. 2025-01-06T13:00:00Z), or make '${field}' a timestamp in the file's .schema.json sidecar, which syncline compares as instants` }
    } catch (error) {
      throw this.translate(error, state, 'reading')
    }
  }

  scan(entity: string, opts: ScanOptions): AsyncIterable<Row[]> {
    return this.scanBatches(entity, opts)
  }

  private async *scanBatches(entity: string, opts: ScanOptions): AsyncGenerator<Row[]> {
    throwIfAborted(opts.signal)
    const state = await this.state(entity, opts.signal)
    const db = this.entities.staging.db
    const info = state.table.info
    try {
      this.index(state, opts.keys)
      const modes = this.entities.modes.of(db, info, comparedFields(opts), true)
      yield* scanRows({ db, entity: info, modes }, opts)
    } catch (error) {
      throw this.translate(error, state, 'reading')
    }
  }

  async lookup(entity: string, keys: string[], values: KeyValues[], fields: string[], opts: { signal?: AbortSignal } = {}): Promise<Row[]> {
    throwIfAborted(opts.signal)
    const state = await this.state(entity, opts.signal)
    const db = this.entities.staging.db
    const info = state.table.info
    try {
      this.index(state, keys)
      return lookupRows({ db, entity: info, modes: this.entities.modes.of(db, info, keys) }, keys, values, fields)
    } catch (error) {
      throw this.translate(error, state, 'looking up rows of')
    }
  }

  async apply(entity: string, batch: ApplyBatch, opts: ApplyOptions): Promise<ApplyResult> {
    throwIfAborted(opts.signal)
    const state = await this.state(entity, opts.signal)
    try {
      this.index(state, opts.keys)
      const result = applyBatch(this.entities.staging.db, state.table.info, batch, opts)
      if (result.upserted > 0 || result.deleted > 0) this.entities.written(state, opts.keys)
      return result
    } catch (error) {
      throw this.translate(error, state, 'writing to')
    }
  }

  async commit(entity: string): Promise<void> {
    const name = this.entities.resolve(entity) ?? entity
    try {
      await this.entities.commit(name)
    } catch (error) {
      if (error instanceof SynclineError) throw error
      const code = String((error as { code?: unknown }).code ?? '')
      const denied = code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
      throw new SynclineError(
        denied ? 'CONNECTION_REFUSED' : 'INTERNAL',
        denied ? 'config' : 'internal',
        `Writing ${this.entities.label(name)} failed: ${(error as Error).message}. The old file is unchanged${denied ? '; make the directory writable' : ''}; the next run writes it again.`,
        { cause: error, details: { connection: this.name, entity: name } },
      )
    }
  }

  async rollback(entity: string): Promise<void> {
    this.entities.rollback(this.entities.resolve(entity) ?? entity)
  }

  async physicalIdentity(entity: string, opts: { signal?: AbortSignal } = {}): Promise<PhysicalIdentity | undefined> {
    throwIfAborted(opts.signal)
    const name = this.entities.resolve(entity)
    const file = name === undefined ? undefined : fileIdentity(dataPath(this.location, name))
    return file && { key: JSON.stringify(['file', file.key]), label: `file ${file.realPath}` }
  }

  async ensureEntity(entity: string, fields: FieldInfo[], keys: string[]): Promise<void> {
    const problem = entityNameProblem(entity)
    if (problem) throw new SynclineError('PLAN_INVALID', 'config', `Connection '${this.name}': ${problem}. Name the destination entity like a file, without the .${this.kind} extension.`)
    if (this.entities.resolve(entity) !== undefined) return
    const lower = new Map<string, string>()
    for (const field of fields) {
      const other = lower.get(field.name.toLowerCase())
      if (other !== undefined) {
        throw new SynclineError('PLAN_INVALID', 'config', `Cannot create ${this.entities.label(entity)}: the fields '${other}' and '${field.name}' differ only in case, which the file connector cannot keep apart. Map one of them to another name.`)
      }
      lower.set(field.name.toLowerCase(), field.name)
    }
    try {
      this.entities.create(entity, fields, keys)
    } catch (error) {
      if (error instanceof SynclineError) throw new SynclineError(error.code, error.failure, error.message.replace(/SQLite table '[^']*'/g, this.entities.label(entity)), { cause: error })
      throw sqliteFailure(error, `creating ${this.entities.label(entity)}`)
    }
  }

  async close(): Promise<void> {
    this.entities.close()
  }

  /** The entity's staged table; ENTITY_NOT_FOUND when there is no such file. */
  private async state(entity: string, signal?: AbortSignal): Promise<EntityState> {
    const name = this.entities.resolve(entity)
    const state = name === undefined ? undefined : await this.entities.loaded(name, signal)
    if (!state) throw this.notFound(entity)
    return state
  }

  /** Index the keys a read or write uses, when they are fields of the entity (else the SQLite code names the missing one). */
  private index(state: EntityState, keys: readonly string[]): void {
    if (keys.every((k) => state.table.info.fields.some((f) => f.name === k))) this.entities.staging.ensureIndex(state.table, keys)
  }

  /** Errors of the SQLite code, reworded to name the file instead of the staging table. */
  private translate(error: unknown, state: EntityState, doing: string): Error {
    const label = this.entities.label(state.entity)
    const failure = error instanceof SynclineError ? error : sqliteFailure(error, `${doing} ${label}`)
    failure.message = failure.message.split(`SQLite table '${state.table.name}'`).join(label)
    if (failure.details && failure.details.entity === state.table.name) (failure.details as Record<string, unknown>).entity = state.entity
    return failure
  }

  private notFound(entity: string): NotFoundError {
    const names = this.entities.names()
    const where = `${this.location.kind.toUpperCase()} files in ${this.location.dir}`
    const hint = !this.entities.directoryExists ? ' The directory does not exist.' : names.length === 0 ? ' It holds no such files yet.' : didYouMean(entity, names)
    return new NotFoundError(
      'ENTITY_NOT_FOUND',
      'config',
      `Connection '${this.name}' (${where}) has no entity '${entity}' (no file ${entity}${this.location.extension}).${hint} ` +
        `Fix the entity name in the plan (\`syncline discover ${this.name}\` lists them), or set create: true on a destination.`,
      { details: { connection: this.name, entity, suggestion: closestName(entity, names) } },
    )
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
