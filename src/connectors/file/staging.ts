/**
 * The private SQLite database a file connector works in: each file it reads
 * is loaded into a table here, and scans, lookups, counts and writes run
 * through the SQLite connector's own code (its codec stores every value
 * exactly with its declared type; its scans order keys by UTF-8 bytes and
 * keep memory bounded by the batch size). It lives in a temporary directory
 * that `close()` removes.
 */
import type Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { EntityInfo, FieldInfo, Row } from '../../values/canonical.js'
import { createTable, describeTable, encodeValue, findTable, quoteIdent, rowDecoder, SqliteFile, type SqliteValue } from '../sqlite/staging-database.js'

/** A table in the staging database. */
export interface StagedTable {
  /** The internal table name (`t1`, `t2`…): entity names may differ only in case, SQLite table names may not. */
  name: string
  /** The table as the SQLite connector describes it (SQLite declared types), for its read and write code. */
  info: EntityInfo
}

/** Turns a failure to load row `index` into the error to throw. */
export type LoadErrorHandler = (index: number, error: unknown, field?: string) => Error

/** Rows read per query when exporting a table without sort keys. */
const EXPORT_BATCH = 5000

/** Staging directories not removed yet; a process that ends without closing its connectors still removes them. */
const liveDirectories = new Set<string>()
let exitHook = false

function track(dir: string): void {
  liveDirectories.add(dir)
  if (exitHook) return
  exitHook = true
  process.once('exit', () => {
    for (const path of liveDirectories) rmSync(path, { recursive: true, force: true })
  })
}

/** One connector's staging database, created on first use. */
export class StagingDatabase {
  private dir: string | undefined
  private file: SqliteFile | undefined
  private tables = 0

  /** The open database (created on first call). */
  get db(): Database.Database {
    if (this.file) return this.file.write()
    this.dir = mkdtempSync(join(tmpdir(), 'syncline-file-'))
    track(this.dir)
    this.file = new SqliteFile({ name: 'file staging', url: `sqlite:${join(this.dir, 'staging.db')}` })
    const db = this.file.write()
    // A throw-away copy: durability would only cost time.
    db.pragma('synchronous = OFF')
    return db
  }

  /** A new, empty table for these fields; key fields become its primary key. */
  create(fields: readonly FieldInfo[], keys: readonly string[]): StagedTable {
    const db = this.db
    const name = `t${++this.tables}`
    createTable(db, name, fields, keys)
    return { name, info: describeTable(db, findTable(db, name)!) }
  }

  /** Drop a table (no error when it is gone). */
  drop(table: StagedTable): void {
    if (this.file) this.db.exec(`DROP TABLE IF EXISTS ${quoteIdent(table.name)}`)
  }

  /**
   * An inserter for loading rows, in one transaction per call. A value or
   * row the table refuses (a repeated primary key) throws what `onError`
   * makes of it (`field` is known when one value was the problem).
   */
  inserter(table: StagedTable): (rows: readonly Row[], onError: LoadErrorHandler) => void {
    const db = this.db
    const fields = table.info.fields
    const insert = db.prepare(`INSERT INTO ${quoteIdent(table.name)} (${fields.map((f) => quoteIdent(f.name)).join(', ')}) VALUES (${fields.map(() => '?').join(', ')})`)
    const params: SqliteValue[] = new Array(fields.length)
    return db.transaction((rows: readonly Row[], onError: LoadErrorHandler) => {
      rows.forEach((row, index) => {
        for (let i = 0; i < fields.length; i++) {
          const field = fields[i]!
          try {
            params[i] = encodeValue(row[field.name] ?? null, field.type)
          } catch (error) {
            throw onError(index, error, field.name)
          }
        }
        try {
          insert.run(params)
        } catch (error) {
          throw onError(index, error)
        }
      })
    })
  }

  /**
   * Make sure an index covers `keys` (files without a primary key are read
   * and written by the plan's keys; without an index every batch would sort
   * the whole table).
   */
  ensureIndex(table: StagedTable, keys: readonly string[]): void {
    if (keys.length === 0) return
    const wanted = keys.join('\u0000')
    const covered = [table.info.primaryKey, ...table.info.uniqueKeys].some((k) => k.join('\u0000') === wanted)
    if (covered) return
    const index = quoteIdent(`${table.name} by ${JSON.stringify(keys)}`)
    this.db.exec(`CREATE INDEX IF NOT EXISTS ${index} ON ${quoteIdent(table.name)} (${keys.map((k) => `${quoteIdent(k)} COLLATE BINARY`).join(', ')})`)
  }

  /** Every row of a table in insertion order, `EXPORT_BATCH` at a time (for tables with no sort keys). */
  async *rowsInOrder(table: StagedTable): AsyncGenerator<Row[]> {
    const fields = table.info.fields
    const decode = rowDecoder(table.name, fields)
    const select = this.db
      .prepare(`SELECT rowid, ${fields.map((f) => quoteIdent(f.name)).join(', ')} FROM ${quoteIdent(table.name)} WHERE rowid > ? ORDER BY rowid LIMIT ${EXPORT_BATCH}`)
      .raw(true)
    let after: bigint = -(2n ** 63n)
    for (;;) {
      const cells = select.all(after) as unknown[][]
      if (cells.length === 0) return
      after = cells[cells.length - 1]![0] as bigint
      yield cells.map((c) => decode(c.slice(1)))
      if (cells.length < EXPORT_BATCH) return
    }
  }

  /** Close the database and remove its directory. */
  close(): void {
    this.file?.close()
    this.file = undefined
    if (this.dir) {
      rmSync(this.dir, { recursive: true, force: true })
      liveDirectories.delete(this.dir)
    }
    this.dir = undefined
  }
}
