/**
 * Reading from files: on first use a file is loaded into a staging table,
 * `LOAD_BATCH` records per transaction, and scans, lookups and counts run
 * the SQLite connector's read code there (key order by UTF-8 bytes, memory
 * bounded by the batch size). A file is loaded again when it (or its
 * sidecar) changed on disk since, unless writes are staged for it.
 */
import { existsSync } from 'node:fs'
import { throwIfAborted } from '../../errors.js'
import type { KeyValues, Row } from '../../values/canonical.js'
import type { Filter, ScanOptions, TimestampSpellings } from '../connector.js'
import { comparedFields, comparedFilterFields, countRows, lookupRows, scanRows, timestampSpellingSamples } from '../sqlite/staging-database.js'
import { entityNotFound, fileDataError, stagingError } from './errors.js'
import { dataPath, sidecarPath } from './location.js'
import { readSidecar, type FileSchema } from './sidecar.js'
import type { EntityState, KnownSchema, StagedEntities } from './staged-entities.js'
import type { StagedTable } from './staging.js'

/** Records read from a file per staging transaction. */
const LOAD_BATCH = 1000

/** The reads of one file connection. */
export class FileSource {
  private readonly loading = new Map<string, Promise<EntityState | undefined>>()

  constructor(
    private readonly connection: string,
    private readonly entities: StagedEntities,
  ) {}

  /** The schema of an entity, without loading its rows; undefined when it does not exist. */
  async schemaOf(entity: string, signal?: AbortSignal): Promise<{ schema: FileSchema; inferred: boolean } | undefined> {
    const state = this.entities.current(entity)
    if (state) return state
    const stamp = this.entities.stampOf(entity)
    if (stamp === undefined) return undefined
    const known = this.entities.knownSchema(entity, stamp)
    if (known) return known
    const opened = await this.entities.format.open(dataPath(this.entities.location, entity), this.sidecar(entity), signal)
    await opened.close()
    const schema: KnownSchema = { stamp, schema: opened.schema, inferred: opened.inferred }
    this.entities.rememberSchema(entity, schema)
    return schema
  }

  /** The entity's staged table, loading (or reloading) the file as needed; ENTITY_NOT_FOUND when there is no such file. */
  async state(entity: string, signal?: AbortSignal): Promise<EntityState> {
    const name = this.entities.resolve(entity)
    const state = name === undefined ? undefined : await this.loaded(name, signal)
    if (!state) throw entityNotFound(this.connection, this.entities, entity)
    return state
  }

  /** Rows of the staged table matching the filters. */
  async count(entity: string, filters: Filter[] = []): Promise<number> {
    const state = await this.state(entity)
    const db = this.entities.staging.db
    const info = state.table.info
    try {
      return countRows({ db, entity: info, modes: this.entities.modes.of(db, info, comparedFilterFields(filters)) }, filters)
    } catch (error) {
      throw stagingError(error, this.entities, state, 'counting')
    }
  }

  /** Samples of mixed timestamp spellings in a text field, with the fix; undefined when it has one spelling. */
  async timestampSpellings(entity: string, field: string): Promise<TimestampSpellings | undefined> {
    const state = await this.state(entity)
    try {
      const samples = timestampSpellingSamples(this.entities.staging.db, state.table.info.name, field)
      if (!samples) return undefined
      return { samples, fix: `write every '${field}' value of ${entity} in one spelling (e.g. 2025-01-06T13:00:00Z), or make '${field}' a timestamp in the file's .schema.json sidecar, which syncline compares as instants` }
    } catch (error) {
      throw stagingError(error, this.entities, state, 'reading')
    }
  }

  /** Batches of rows in key or cursor order, filters applied, as the SQLite connector scans. */
  async *scan(entity: string, opts: ScanOptions): AsyncGenerator<Row[]> {
    throwIfAborted(opts.signal)
    const state = await this.state(entity, opts.signal)
    const db = this.entities.staging.db
    const info = state.table.info
    try {
      this.entities.index(state, opts.keys)
      const modes = this.entities.modes.of(db, info, comparedFields(opts), true)
      yield* scanRows({ db, entity: info, modes }, opts)
    } catch (error) {
      throw stagingError(error, this.entities, state, 'reading')
    }
  }

  /** The rows with these keys. */
  async lookup(entity: string, keys: string[], values: KeyValues[], fields: string[], opts: { signal?: AbortSignal } = {}): Promise<Row[]> {
    throwIfAborted(opts.signal)
    const state = await this.state(entity, opts.signal)
    const db = this.entities.staging.db
    const info = state.table.info
    try {
      this.entities.index(state, keys)
      return lookupRows({ db, entity: info, modes: this.entities.modes.of(db, info, keys) }, keys, values, fields)
    } catch (error) {
      throw stagingError(error, this.entities, state, 'looking up rows of')
    }
  }

  /** The staged table of an existing entity name, loading (or reloading) the file as needed; undefined when it does not exist. */
  private async loaded(entity: string, signal?: AbortSignal): Promise<EntityState | undefined> {
    const state = this.entities.current(entity)
    if (state) return state
    // Concurrent first uses (a scan and a lookup) share one load.
    let pending = this.loading.get(entity)
    if (!pending) {
      pending = this.load(entity, signal).finally(() => this.loading.delete(entity))
      this.loading.set(entity, pending)
    }
    return pending
  }

  private async load(entity: string, signal?: AbortSignal): Promise<EntityState | undefined> {
    this.entities.forget(entity)
    const stamp = this.entities.stampOf(entity)
    if (stamp === undefined) return undefined
    const path = dataPath(this.entities.location, entity)
    const opened = await this.entities.format.open(path, this.sidecar(entity), signal)
    const staging = this.entities.staging
    let table: StagedTable | undefined
    try {
      table = staging.create(opened.schema.fields, opened.schema.primaryKey)
      const insert = staging.inserter(table)
      const keys = opened.schema.primaryKey
      for await (const batch of opened.rows(LOAD_BATCH)) {
        throwIfAborted(signal)
        insert(
          batch.map((r) => r.row),
          (index, error, field) => {
            const line = batch[index]!.line
            const code = String((error as { code?: unknown }).code ?? '')
            if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') {
              return fileDataError({ path, line }, `the record repeats the primary key (${keys.join(', ')}) of an earlier record`, 'Remove the duplicate, or fix primaryKey in the schema file.', error)
            }
            return fileDataError({ path, line, field }, (error as Error).message, 'Fix the value, or the field type in the schema file.', error)
          },
        )
      }
    } catch (error) {
      if (table) staging.drop(table)
      await opened.close()
      throw error
    }
    const loaded: EntityState = {
      entity,
      table,
      schema: opened.schema,
      inferred: opened.inferred,
      stamp,
      dirty: false,
      sortKeys: opened.schema.sortedBy ?? opened.schema.primaryKey,
    }
    this.entities.keep(loaded)
    this.entities.rememberSchema(entity, { stamp, schema: opened.schema, inferred: opened.inferred })
    return loaded
  }

  private sidecar(entity: string): FileSchema | undefined {
    const path = sidecarPath(this.entities.location, entity)
    return existsSync(path) ? readSidecar(path) : undefined
  }
}
