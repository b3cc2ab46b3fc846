/**
 * Writing to files: `apply` changes the staged table only (the SQLite
 * connector's idempotent upserts and deletes); `commit` writes it out,
 * sorted by key, to a temporary file renamed over the old one, with its
 * sidecar; `rollback` drops it, so the next use starts from the file again.
 * A destination file therefore changes only at the end of a run, and a
 * failed run leaves it intact.
 */
import { existsSync, readFileSync } from 'node:fs'
import { SynclineError, throwIfAborted } from '../../errors.js'
import type { FieldInfo, Row } from '../../values/canonical.js'
import type { ApplyBatch, ApplyOptions, ApplyResult } from '../connector.js'
import { applyBatch, scanRows, sqliteFailure } from '../sqlite/staging-database.js'
import { writeAtomically } from './atomic-write.js'
import { stagingError } from './errors.js'
import { dataPath, entityNameProblem, sidecarPath } from './location.js'
import { fileField, sidecarText, type FileSchema } from './sidecar.js'
import type { FileSource } from './source.js'
import type { EntityState, StagedEntities } from './staged-entities.js'

/** Rows written per export batch. */
const EXPORT_BATCH = 5000

/** The writes of one file connection. */
export class FileSink {
  constructor(
    private readonly connection: string,
    private readonly entities: StagedEntities,
    private readonly source: FileSource,
  ) {}

  /** Stage a new entity when there is none by that name; its file is written at commit. */
  ensureEntity(entity: string, fields: readonly FieldInfo[], keys: readonly string[]): void {
    const problem = entityNameProblem(entity)
    if (problem) throw new SynclineError('PLAN_INVALID', 'config', `Connection '${this.connection}': ${problem}. Name the destination entity like a file, without the .${this.entities.location.kind} extension.`)
    if (this.entities.resolve(entity) !== undefined) return
    const label = this.entities.label(entity)
    const lower = new Map<string, string>()
    for (const field of fields) {
      const other = lower.get(field.name.toLowerCase())
      if (other !== undefined) {
        throw new SynclineError('PLAN_INVALID', 'config', `Cannot create ${label}: the fields '${other}' and '${field.name}' differ only in case, which the file connector cannot keep apart. Map one of them to another name.`)
      }
      lower.set(field.name.toLowerCase(), field.name)
    }
    try {
      this.entities.keep({
        entity,
        table: this.entities.staging.create(fields, keys),
        schema: { fields: fields.map(fileField), primaryKey: [...keys] },
        inferred: false,
        stamp: undefined,
        dirty: true,
        sortKeys: [...keys],
      })
    } catch (error) {
      if (error instanceof SynclineError) throw new SynclineError(error.code, error.failure, error.message.replace(/SQLite table '[^']*'/g, label), { cause: error })
      throw sqliteFailure(error, `creating ${label}`)
    }
  }

  /** Apply a batch to the staged table (loading the file first when needed); the file changes at commit. */
  async apply(entity: string, batch: ApplyBatch, opts: ApplyOptions): Promise<ApplyResult> {
    throwIfAborted(opts.signal)
    const state = await this.source.state(entity, opts.signal)
    try {
      this.entities.index(state, opts.keys)
      const result = applyBatch(this.entities.staging.db, state.table.info, batch, opts)
      if (result.upserted > 0 || result.deleted > 0) {
        state.dirty = true
        if (state.sortKeys.length === 0) state.sortKeys = [...opts.keys]
      }
      return result
    } catch (error) {
      throw stagingError(error, this.entities, state, 'writing to')
    }
  }

  /** Write the staged table to the file (and sidecar), atomically; nothing to do when nothing is staged. */
  async commit(entity: string): Promise<void> {
    const name = this.entities.resolve(entity) ?? entity
    try {
      await this.writeOut(name)
    } catch (error) {
      if (error instanceof SynclineError) throw error
      const code = String((error as { code?: unknown }).code ?? '')
      const denied = code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
      throw new SynclineError(
        denied ? 'CONNECTION_REFUSED' : 'INTERNAL',
        denied ? 'config' : 'internal',
        `Writing ${this.entities.label(name)} failed: ${(error as Error).message}. The old file is unchanged${denied ? '; make the directory writable' : ''}; the next run writes it again.`,
        { cause: error, details: { connection: this.connection, entity: name } },
      )
    }
  }

  /** Forget staged writes: the next use reads the file again. */
  rollback(entity: string): void {
    this.entities.forget(this.entities.resolve(entity) ?? entity)
  }

  private async writeOut(entity: string): Promise<void> {
    const state = this.entities.get(entity)
    if (!state?.dirty) return
    const { location, format } = this.entities
    const schema: FileSchema = { fields: state.schema.fields.map(fileField), primaryKey: state.schema.primaryKey }
    if (state.sortKeys.length > 0) schema.sortedBy = state.sortKeys
    // The sidecar first: a sidecar without its data file is ignored, a data file without its sidecar would be read with guessed types.
    const text = sidecarText(schema)
    const schemaFile = sidecarPath(location, entity)
    if (!existsSync(schemaFile) || readFileSync(schemaFile, 'utf8') !== text) await writeAtomically(schemaFile, (append) => append(text))
    const fields = schema.fields
    await writeAtomically(dataPath(location, entity), async (append) => {
      await append(format.header(fields))
      for await (const rows of this.rowsOf(state)) await append(format.rows(fields, rows))
    })
    state.schema = schema
    state.inferred = false
    state.dirty = false
    state.stamp = this.entities.stampOf(entity)
    if (state.stamp !== undefined) this.entities.rememberSchema(entity, { stamp: state.stamp, schema, inferred: false })
  }

  /** The staged rows in sort-key order (insertion order without sort keys). */
  private rowsOf(state: EntityState): AsyncIterable<Row[]> {
    const keys = state.sortKeys
    if (keys.length === 0) return this.entities.staging.rowsInOrder(state.table)
    const db = this.entities.staging.db
    const info = state.table.info
    return scanRows({ db, entity: info, modes: this.entities.modes.of(db, info, keys, true) }, { fields: info.fields.map((f) => f.name), keys, batchSize: EXPORT_BATCH })
  }
}
