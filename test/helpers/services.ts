/**
 * Reaching the real servers from tests (DESIGN §5).
 *
 * PostgreSQL on 127.0.0.1:5432 unless SYNCLINE_TEST_PG_URL says otherwise,
 * MariaDB/MySQL on 127.0.0.1:3306 unless SYNCLINE_TEST_MYSQL_URL says otherwise.
 * When a server is unreachable its suites are skipped with a visible reason,
 * except under SYNCLINE_TEST_SERVICES=required (set by .ci/run), where that
 * is a failure.
 */
import pg from 'pg'
import mysql from 'mysql2/promise'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The PostgreSQL server tests use (a database that exists on it). */
export const PG_URL = process.env.SYNCLINE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

const servicesRequired = process.env.SYNCLINE_TEST_SERVICES === 'required'

async function reachable(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    return undefined
  } catch (error) {
    return (error as Error).message
  } finally {
    await client.end().catch(() => undefined)
  }
}

/**
 * Whether PostgreSQL is reachable. Use with `describe.skipIf(!(await hasPostgres()))`.
 * Throws under SYNCLINE_TEST_SERVICES=required, prints the reason otherwise.
 */
export async function hasPostgres(): Promise<boolean> {
  const problem = await reachable(PG_URL)
  if (problem === undefined) return true
  if (servicesRequired) throw new Error(`PostgreSQL is required but unreachable at ${PG_URL}: ${problem}`)
  console.warn(`skipping PostgreSQL tests: ${PG_URL} unreachable (${problem}); run scripts/services.sh`)
  return false
}

/**
 * A fresh PostgreSQL database for one test file: `postgres://…/<name>`.
 * Drop it with the returned `drop()` in afterAll.
 */
export async function createPgDatabase(prefix = 'syncline_test'): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  const admin = new pg.Client({ connectionString: PG_URL })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE "${name}"`)
  } finally {
    await admin.end()
  }
  const url = new URL(PG_URL)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const client = new pg.Client({ connectionString: PG_URL })
      await client.connect()
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
      } finally {
        await client.end()
      }
    },
  }
}

/** Run SQL against a PostgreSQL URL with a short-lived client. */
export async function pgQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<T>(sql, params)).rows
  } finally {
    await client.end()
  }
}

/** A temporary directory removed by the returned `remove()`. */
export function tempDir(prefix = 'syncline-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/** The MariaDB/MySQL server tests use (a database that exists on it). */
export const MYSQL_URL = process.env.SYNCLINE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'

/** mysql2 options for a mysql:// URL (user, password, host, port, database). */
function mysqlOptions(url: string, database?: string): mysql.ConnectionOptions {
  const parsed = new URL(url)
  return {
    host: parsed.hostname || '127.0.0.1',
    port: Number(parsed.port || 3306),
    user: decodeURIComponent(parsed.username) || 'root',
    password: decodeURIComponent(parsed.password),
    database: database ?? decodeURIComponent(parsed.pathname.slice(1)),
    connectTimeout: 3000,
    supportBigNumbers: true,
    dateStrings: true,
  }
}

/**
 * Whether MariaDB/MySQL is reachable. Use with `describe.skipIf(!(await hasMysql()))`.
 * Throws under SYNCLINE_TEST_SERVICES=required, prints the reason otherwise.
 */
export async function hasMysql(): Promise<boolean> {
  let problem: string | undefined
  try {
    const connection = await mysql.createConnection(mysqlOptions(MYSQL_URL))
    await connection.end()
  } catch (error) {
    problem = (error as Error).message
  }
  if (problem === undefined) return true
  if (servicesRequired) throw new Error(`MariaDB/MySQL is required but unreachable at ${MYSQL_URL}: ${problem}`)
  console.warn(`skipping MariaDB/MySQL tests: ${MYSQL_URL} unreachable (${problem}); run scripts/services.sh`)
  return false
}

/**
 * A fresh MariaDB/MySQL database for one test file: `mysql://…/<name>`.
 * Drop it with the returned `drop()` in afterAll.
 */
export async function createMysqlDatabase(prefix = 'syncline_test'): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  await mysqlQuery(MYSQL_URL, `CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`)
  const url = new URL(MYSQL_URL)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    name,
    drop: async () => {
      await mysqlQuery(MYSQL_URL, `DROP DATABASE IF EXISTS \`${name}\``)
    },
  }
}

/** Run SQL against a MariaDB/MySQL URL with a short-lived connection (`?` placeholders, text protocol). */
export async function mysqlQuery<T = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const connection = await mysql.createConnection(mysqlOptions(url))
  try {
    const [rows] = await connection.query(sql, params)
    return (Array.isArray(rows) ? rows : []) as T[]
  } finally {
    await connection.end()
  }
}
