/**
 * A temporary working directory per test, the way a user keeps a plan:
 * `syncline.yaml` beside its SQLite files, state in `.syncline/`.
 */
import Database from 'better-sqlite3'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../helpers/services.js'
import { cli, type CliOptions, type CliResult } from './cli.js'

/** One test's directory. */
export interface Workspace {
  dir: string
  path(name: string): string
  /** Write a file (e.g. `syncline.yaml`). */
  write(name: string, text: string): void
  /** Run SQL against a SQLite file in the directory (created if missing). */
  sqlite(name: string, sql: string): void
  /** Rows of a query against a SQLite file in the directory. */
  sqliteRows<T = Record<string, unknown>>(name: string, sql: string, params?: unknown[]): T[]
  /** Run `syncline ARGS…` here. */
  run(args: string[], opts?: Omit<CliOptions, 'cwd'>): Promise<CliResult>
  remove(): void
}

/** A fresh directory; call `remove()` when done. */
export function workspace(prefix = 'syncline-cli-'): Workspace {
  const dir = tempDir(prefix)
  const path = (name: string) => join(dir.path, name)
  const withDb = <T>(name: string, fn: (db: Database.Database) => T): T => {
    const db = new Database(path(name))
    try {
      return fn(db)
    } finally {
      db.close()
    }
  }
  return {
    dir: dir.path,
    path,
    write: (name, text) => writeFileSync(path(name), text),
    sqlite: (name, sql) => withDb(name, (db) => db.exec(sql)),
    sqliteRows: <T,>(name: string, sql: string, params: unknown[] = []) => withDb(name, (db) => db.prepare(sql).all(...params) as T[]),
    run: (args, opts = {}) => cli(args, { ...opts, cwd: dir.path }),
    remove: dir.remove,
  }
}

/** Fill a SQLite table `items (id, name, updated_at)` with `count` rows in one transaction. */
export function fillItems(file: string, count: number): void {
  const db = new Database(file)
  try {
    db.exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated_at TEXT NOT NULL)`)
    const insert = db.prepare(`INSERT INTO items VALUES (?, ?, ?)`)
    const start = Date.UTC(2026, 0, 1)
    db.transaction(() => {
      for (let id = 1; id <= count; id++) insert.run(id, `item ${id}`, new Date(start + id * 1000).toISOString())
    })()
  } finally {
    db.close()
  }
}
