/**
 * Fresh datasources for engine tests, with a tiny SQL helper to build
 * fixtures natively. SQL uses `?` placeholders; PostgreSQL gets `$n`.
 * MariaDB/MySQL sessions run with ANSI_QUOTES (so `"Name"` quotes an
 * identifier everywhere) and in UTC. File datasources (`csv`, `ndjson`) are
 * a temp directory; they take no SQL, so tests write their files directly.
 */
import Database from 'better-sqlite3'
import mysql from 'mysql2/promise'
import { join } from 'node:path'
import { createMysqlDatabase, createPgDatabase, pgQuery, tempDir } from '../helpers/services.js'

/** The kinds of datasource a test can open. */
export type DatasourceKind = 'sqlite' | 'postgres' | 'mysql' | 'csv' | 'ndjson'

/** One datasource a test owns. */
export interface TestDatasource {
  kind: DatasourceKind
  /** Connection URL for a plan. */
  url: string
  /** The directory of a file datasource (`csv`, `ndjson`): one file per entity. */
  dir?: string
  exec(sql: string, params?: unknown[]): Promise<void>
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>
  cleanup(): Promise<void>
}

function numbered(sql: string): string {
  let i = 0
  return sql.replace(/\?/g, () => `$${++i}`)
}

/** A new SQLite file in a temp directory. */
export function sqliteDatasource(name = 'db'): TestDatasource {
  const dir = tempDir('syncline-engine-')
  const path = join(dir.path, `${name}.db`)
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  return {
    kind: 'sqlite',
    url: `sqlite:${path}`,
    exec: async (sql, params = []) => {
      if (params.length === 0) db.exec(sql)
      else db.prepare(sql).run(...params)
    },
    query: async <T,>(sql: string, params: unknown[] = []) => db.prepare(sql).all(...params) as T[],
    cleanup: async () => {
      db.close()
      dir.remove()
    },
  }
}

/** A new PostgreSQL database. */
export async function postgresDatasource(): Promise<TestDatasource> {
  const database = await createPgDatabase('syncline_engine')
  return {
    kind: 'postgres',
    url: database.url,
    exec: async (sql, params = []) => {
      await pgQuery(database.url, numbered(sql), params)
    },
    query: async <T,>(sql: string, params: unknown[] = []) => (await pgQuery(database.url, numbered(sql), params)) as T[],
    cleanup: () => database.drop(),
  }
}

/** A new MariaDB/MySQL database. */
export async function mysqlDatasource(): Promise<TestDatasource> {
  const database = await createMysqlDatabase('syncline_engine')
  const run = async (sql: string, params: unknown[]) => {
    const connection = await mysql.createConnection({ uri: database.url, dateStrings: true, supportBigNumbers: true })
    try {
      await connection.query(`SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES'), time_zone = '+00:00'`)
      const [rows] = await connection.query(sql, params)
      return Array.isArray(rows) ? rows : []
    } finally {
      await connection.end()
    }
  }
  return {
    kind: 'mysql',
    url: database.url,
    exec: async (sql, params = []) => {
      await run(sql, params)
    },
    query: async <T,>(sql: string, params: unknown[] = []) => (await run(sql, params)) as T[],
    cleanup: () => database.drop(),
  }
}

/** A new, empty directory for a `csv:DIR` or `ndjson:DIR` connection. */
export function fileDatasource(kind: 'csv' | 'ndjson'): TestDatasource {
  const dir = tempDir(`syncline-engine-${kind}-`)
  const noSql = async (): Promise<never> => {
    throw new Error(`a ${kind} datasource takes no SQL: write the files in ${dir.path} instead`)
  }
  return {
    kind,
    url: `${kind}:${dir.path}`,
    dir: dir.path,
    exec: noSql,
    query: noSql,
    cleanup: async () => dir.remove(),
  }
}

/** Open a datasource of the given kind. */
export async function openDatasource(kind: DatasourceKind, name?: string): Promise<TestDatasource> {
  switch (kind) {
    case 'sqlite':
      return sqliteDatasource(name)
    case 'postgres':
      return postgresDatasource()
    case 'mysql':
      return mysqlDatasource()
    case 'csv':
    case 'ndjson':
      return fileDatasource(kind)
  }
}
