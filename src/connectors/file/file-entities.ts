/**
 * The entities of one file connection and their staged tables.
 *
 * Reading: on first use a file is loaded into a staging table; it is loaded
 * again when the file (or its sidecar) changed on disk since, unless writes
 * are staged. Writing: `apply` changes the staged table only; `commit`
 * writes it out, sorted by key, to a temporary file renamed over the old
 * one, with its sidecar; `rollback` drops it, so the next use starts from
 * the file again.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { throwIfAborted } from '../../errors.js'
import type { FieldInfo, Row } from '../../values/canonical.js'
import { CompareModes, scanRows } from '../sqlite/staging-database.js'
import { writeAtomically } from './atomic-write.js'
import { fileDataError } from './errors.js'
import type { FileFormat } from './formats.js'
import { dataPath, entityOfFile, sidecarPath, type FileLocation } from './location.js'
import { fileField, readSidecar, sidecarText, type FileSchema } from './sidecar.js'
import { StagingDatabase, type StagedTable } from './staging.js'

/** Rows read from a file per staging transaction, and written per export batch. */
const LOAD_BATCH = 1000
const EXPORT_BATCH = 5000

/** One entity with a staged table. */
export interface EntityState {
  entity: string
  table: StagedTable
  schema: FileSchema
  /** The file's types were inferred (it has no sidecar). */
  inferred: boolean
  /** What the file was when the table was loaded or written; undefined while no file exists. */
  stamp: string | undefined
  /** Writes are staged that the file does not have yet. */
  dirty: boolean
  /** Key fields rows are written in order of. */
  sortKeys: string[]
}

/** A schema as read from disk, with the file state it describes. */
interface KnownSchema {
  stamp: string
  schema: FileSchema
  inferred: boolean
}

/** The entities of one directory. */
export class FileEntities {
  readonly staging = new StagingDatabase()
  readonly modes = new CompareModes()
  private readonly states = new Map<string, EntityState>()
  private readonly schemas = new Map<string, KnownSchema>()
  private readonly loading = new Map<string, Promise<EntityState | undefined>>()

  constructor(
    readonly location: FileLocation,
    readonly format: FileFormat,
  ) {}

  /** `CSV file /data/customers.csv`, for messages. */
  label(entity: string): string {
    return `${this.format.label} file ${dataPath(this.location, entity)}`
  }

  /** Whether the connection's directory exists. */
  get directoryExists(): boolean {
    try {
      return statSync(this.location.dir).isDirectory()
    } catch {
      return false
    }
  }

  /** Entities with a data file, and staged ones not written yet, sorted. */
  names(): string[] {
    const names = new Set(this.states.keys())
    if (this.directoryExists) {
      for (const entry of readdirSync(this.location.dir, { withFileTypes: true })) {
        const entity = entityOfFile(this.location, entry.name)
        if (entity === undefined) continue
        if (entry.isFile() || (entry.isSymbolicLink() && statSync(dataPath(this.location, entity), { throwIfNoEntry: false })?.isFile())) names.add(entity)
      }
    }
    return [...names].sort()
  }

  /** The entity a name refers to: the exact name, else the only one matching it case-insensitively. */
  resolve(entity: string): string | undefined {
    if (this.states.has(entity) || this.stampOf(entity) !== undefined) return entity
    const lower = entity.toLowerCase()
    const matches = this.names().filter((n) => n.toLowerCase() === lower)
    return matches.length === 1 ? matches[0] : undefined
  }

  /** Identity, size and modification time of the data file and its sidecar; undefined without a data file. */
  stampOf(entity: string): string | undefined {
    const data = statSync(dataPath(this.location, entity), { bigint: true, throwIfNoEntry: false })
    if (!data?.isFile()) return undefined
    const sidecar = statSync(sidecarPath(this.location, entity), { bigint: true, throwIfNoEntry: false })
    const part = (s: typeof data | undefined) => (s ? `${s.ino}:${s.size}:${s.mtimeNs}` : '-')
    return `${part(data)}|${part(sidecar)}`
  }

  /** The staged state, if the staged table still holds what the file holds (or has writes of its own). */
  private current(entity: string): EntityState | undefined {
    const state = this.states.get(entity)
    return state && (state.dirty || state.stamp === this.stampOf(entity)) ? state : undefined
  }

  /** The schema of an entity, without loading its rows; undefined when it does not exist. */
  async schemaOf(entity: string, signal?: AbortSignal): Promise<{ schema: FileSchema; inferred: boolean } | undefined> {
    const state = this.current(entity)
    if (state) return state
    const stamp = this.stampOf(entity)
    if (stamp === undefined) return undefined
    const known = this.schemas.get(entity)
    if (known?.stamp === stamp) return known
    const opened = await this.format.open(dataPath(this.location, entity), this.sidecar(entity), signal)
    await opened.close()
    const schema: KnownSchema = { stamp, schema: opened.schema, inferred: opened.inferred }
    this.schemas.set(entity, schema)
    return schema
  }

  /** The entity's staged table, loading (or reloading) the file as needed; undefined when it does not exist. */
  async loaded(entity: string, signal?: AbortSignal): Promise<EntityState | undefined> {
    const state = this.current(entity)
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
    const old = this.states.get(entity)
    if (old) {
      this.staging.drop(old.table)
      this.states.delete(entity)
    }
    const stamp = this.stampOf(entity)
    if (stamp === undefined) return undefined
    const path = dataPath(this.location, entity)
    const opened = await this.format.open(path, this.sidecar(entity), signal)
    let table: StagedTable | undefined
    try {
      table = this.staging.create(opened.schema.fields, opened.schema.primaryKey)
      const insert = this.staging.inserter(table)
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
      if (table) this.staging.drop(table)
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
    this.states.set(entity, loaded)
    this.schemas.set(entity, { stamp, schema: opened.schema, inferred: opened.inferred })
    return loaded
  }

  /** Stage a new entity; its file is written at commit. */
  create(entity: string, fields: readonly FieldInfo[], keys: readonly string[]): void {
    const table = this.staging.create(fields, keys)
    this.states.set(entity, {
      entity,
      table,
      schema: { fields: fields.map(fileField), primaryKey: [...keys] },
      inferred: false,
      stamp: undefined,
      dirty: true,
      sortKeys: [...keys],
    })
  }

  /** Note that `apply` changed the staged table, written with `keys`. */
  written(state: EntityState, keys: readonly string[]): void {
    state.dirty = true
    if (state.sortKeys.length === 0) state.sortKeys = [...keys]
  }

  /** Write the staged table to the file (and sidecar), atomically; nothing to do when nothing is staged. */
  async commit(entity: string): Promise<void> {
    const state = this.states.get(entity)
    if (!state?.dirty) return
    const schema: FileSchema = { fields: state.schema.fields.map(fileField), primaryKey: state.schema.primaryKey }
    if (state.sortKeys.length > 0) schema.sortedBy = state.sortKeys
    // The sidecar first: a sidecar without its data file is ignored, a data file without its sidecar would be read with guessed types.
    const text = sidecarText(schema)
    const schemaFile = sidecarPath(this.location, entity)
    if (!existsSync(schemaFile) || readFileSync(schemaFile, 'utf8') !== text) await writeAtomically(schemaFile, (append) => append(text))
    const fields = schema.fields
    await writeAtomically(dataPath(this.location, entity), async (append) => {
      await append(this.format.header(fields))
      for await (const rows of this.rowsOf(state)) await append(this.format.rows(fields, rows))
    })
    state.schema = schema
    state.inferred = false
    state.dirty = false
    state.stamp = this.stampOf(entity)
    if (state.stamp !== undefined) this.schemas.set(entity, { stamp: state.stamp, schema, inferred: false })
  }

  /** The staged rows in sort-key order (insertion order without sort keys). */
  private rowsOf(state: EntityState): AsyncIterable<Row[]> {
    const keys = state.sortKeys
    if (keys.length === 0) return this.staging.rowsInOrder(state.table)
    const db = this.staging.db
    const info = state.table.info
    return scanRows({ db, entity: info, modes: this.modes.of(db, info, keys, true) }, { fields: info.fields.map((f) => f.name), keys, batchSize: EXPORT_BATCH })
  }

  /** Forget staged writes: the next use reads the file again. */
  rollback(entity: string): void {
    const state = this.states.get(entity)
    if (!state) return
    this.staging.drop(state.table)
    this.states.delete(entity)
  }

  close(): void {
    this.states.clear()
    this.schemas.clear()
    this.staging.close()
  }

  private sidecar(entity: string): FileSchema | undefined {
    const path = sidecarPath(this.location, entity)
    return existsSync(path) ? readSidecar(path) : undefined
  }
}
