/**
 * Opening the SQLite file behind a connection: URL → path, pragmas, and the
 * rule that reading never creates a file while writing may.
 */
import Database from 'better-sqlite3'
import { existsSync, mkdirSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { ConnectionError, SynclineError } from '../../errors.js'
import type { ConnectionConfig } from '../connector.js'
import { registerFunctions } from './dialect.js'

/** How long a statement waits for another process's write lock before failing. */
export const BUSY_TIMEOUT_MS = 5000

/** The connection's page cache, in KiB (negative, as `PRAGMA cache_size` takes it). */
const PAGE_CACHE_KIB = -2000

/** The path `:memory:` stands for an in-memory database. */
export const MEMORY = ':memory:'

/**
 * The file path of a `sqlite:` URL: `sqlite:./rel/path.db` (relative to
 * `baseDir`, else the working directory), `sqlite:/abs/path.db`,
 * `sqlite:///abs/path.db`, or `sqlite::memory:`.
 * @example resolveSqlitePath('sqlite:./shop.db', '/plans') // '/plans/shop.db'
 */
export function resolveSqlitePath(url: string, baseDir?: string): string {
  const match = /^sqlite:(.*)$/is.exec(url.trim())
  if (!match) {
    throw new SynclineError('PLAN_INVALID', 'config', `'${url}' is not a SQLite URL. Use sqlite:./path/to/file.db, sqlite:/absolute/path.db or sqlite::memory:.`)
  }
  // `sqlite:///abs` and `sqlite://rel` are the URL spellings of `/abs` and `rel`.
  const rest = match[1]!.replace(/^\/\//, '').replace(/\?.*$/s, '')
  if (rest === '') throw new SynclineError('PLAN_INVALID', 'config', `'${url}' names no file. Use sqlite:./path/to/file.db or sqlite::memory:.`)
  if (rest === MEMORY) return MEMORY
  return isAbsolute(rest) ? rest : resolve(baseDir ?? process.cwd(), rest)
}

/** Whether a SQLite error means the database is locked (worth retrying). */
export function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
}

/**
 * One connection's database file, opened on first use. `read()` fails with
 * a {@link ConnectionError} naming the path when the file does not exist;
 * `write()` creates the file and its directory.
 */
export class SqliteFile {
  /** Absolute file path, or `:memory:`. */
  readonly path: string
  private db: Database.Database | undefined

  constructor(private readonly config: ConnectionConfig) {
    this.path = resolveSqlitePath(config.url, config.baseDir)
  }

  /** The open database, for reading: a missing file is an error, never created. */
  read(): Database.Database {
    if (this.db) return this.db
    if (this.path !== MEMORY && !existsSync(this.path)) {
      throw new ConnectionError(
        'CONNECTION_REFUSED',
        'config',
        `Connection '${this.config.name}': the SQLite file ${this.path} does not exist` +
          `${isAbsolute(this.urlPath()) ? '' : ` (${this.urlPath()} resolved against ${this.config.baseDir ?? process.cwd()})`}. ` +
          `Fix the path in the connection URL, or let a sync that writes to this connection create it.`,
        { details: { connection: this.config.name, path: this.path } },
      )
    }
    return this.open()
  }

  /** The open database, for writing: creates the file (and its directory) when missing. */
  write(): Database.Database {
    if (this.db) return this.db
    if (this.path !== MEMORY) mkdirSync(dirname(this.path), { recursive: true })
    return this.open()
  }

  /** Whether the file is there (or open, or in memory). */
  get exists(): boolean {
    return this.db !== undefined || this.path === MEMORY || existsSync(this.path)
  }

  /** Whether the database has been opened. */
  get isOpen(): boolean {
    return this.db !== undefined
  }

  close(): void {
    const db = this.db
    this.db = undefined
    db?.close()
  }

  private urlPath(): string {
    return this.config.url.replace(/^sqlite:(\/\/)?/i, '')
  }

  private open(): Database.Database {
    let db: Database.Database | undefined
    try {
      db = new Database(this.path, { timeout: BUSY_TIMEOUT_MS })
      db.defaultSafeIntegers(true)
      // Reading the schema is what finds out that a file is no database.
      db.prepare('SELECT count(*) FROM sqlite_schema').get()
      try {
        // WAL lets the engine read one connection while another writes.
        db.pragma('journal_mode = WAL')
      } catch (error) {
        // A read-only file keeps its journal mode; reading it still works.
        if (!String((error as { code?: unknown }).code).startsWith('SQLITE_READONLY')) throw error
      }
      db.pragma('foreign_keys = ON')
      // SQLite's own default page cache (2 MB), not better-sqlite3's 16 MB: a
      // scan of a large table fills all of it with pages it reads once (about
      // 15 MB of a re-sync's peak RSS), which the OS's file cache keeps anyway.
      db.pragma(`cache_size = ${PAGE_CACHE_KIB}`)
      // LIKE filters match case as on PostgreSQL and in the engine's own evaluator.
      db.pragma('case_sensitive_like = ON')
      registerFunctions(db)
    } catch (error) {
      db?.close()
      const code = String((error as { code?: unknown }).code ?? '')
      const problem = code === 'SQLITE_NOTADB' ? 'is not a SQLite database' : `cannot be opened: ${(error as Error).message}`
      throw new ConnectionError(
        isBusy(error) ? 'LOCKED' : 'CONNECTION_REFUSED',
        isBusy(error) ? 'transient' : 'config',
        `Connection '${this.config.name}': the SQLite file ${this.path} ${problem}. Check the path in the connection URL and the file's permissions.`,
        { cause: error, details: { connection: this.config.name, path: this.path } },
      )
    }
    this.db = db
    return db
  }
}
