/**
 * The entities of one file connection and their staged tables, shared by the
 * reading (source.ts) and the writing (sink.ts) side: which files the
 * directory holds, which of them are loaded into the staging database, and
 * whether a loaded table still holds what its file holds.
 *
 * A staged table is current while its file (and sidecar) is unchanged on
 * disk since it was loaded or written, or while it holds writes the file
 * does not have yet; otherwise the next read loads the file again.
 */
import { readdirSync, statSync } from 'node:fs'
import { CompareModes } from '../sqlite/staging-database.js'
import type { FileFormat } from './formats.js'
import { dataPath, entityOfFile, sidecarPath, type FileLocation } from './location.js'
import type { FileSchema } from './sidecar.js'
import { StagingDatabase, type StagedTable } from './staging.js'

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
export interface KnownSchema {
  stamp: string
  schema: FileSchema
  inferred: boolean
}

/** The entities of one directory and their staged tables. */
export class StagedEntities {
  readonly staging = new StagingDatabase()
  readonly modes = new CompareModes()
  private readonly states = new Map<string, EntityState>()
  /** Schemas read without loading rows (discover), reused while the file is unchanged. */
  private readonly schemas = new Map<string, KnownSchema>()

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

  /** The staged state, current or not; undefined when nothing is staged. */
  get(entity: string): EntityState | undefined {
    return this.states.get(entity)
  }

  /** The staged state, if the staged table still holds what the file holds (or has writes of its own). */
  current(entity: string): EntityState | undefined {
    const state = this.states.get(entity)
    return state && (state.dirty || state.stamp === this.stampOf(entity)) ? state : undefined
  }

  /** Keep a newly staged table (loaded or created), replacing none: {@link forget} the old one first. */
  keep(state: EntityState): void {
    this.states.set(state.entity, state)
  }

  /** Drop an entity's staged table: the next use starts from the file again. */
  forget(entity: string): void {
    const state = this.states.get(entity)
    if (!state) return
    this.staging.drop(state.table)
    this.states.delete(entity)
  }

  /** The schema last read or written for this file state; undefined when the file changed since. */
  knownSchema(entity: string, stamp: string): KnownSchema | undefined {
    const known = this.schemas.get(entity)
    return known?.stamp === stamp ? known : undefined
  }

  /** Remember the schema of a file state, so discovering it again does not open the file. */
  rememberSchema(entity: string, known: KnownSchema): void {
    this.schemas.set(entity, known)
  }

  /** Index the keys a read or write uses, when they are fields of the entity (else the SQLite code names the missing one). */
  index(state: EntityState, keys: readonly string[]): void {
    if (keys.every((k) => state.table.info.fields.some((f) => f.name === k))) this.staging.ensureIndex(state.table, keys)
  }

  close(): void {
    this.states.clear()
    this.schemas.clear()
    this.staging.close()
  }
}
