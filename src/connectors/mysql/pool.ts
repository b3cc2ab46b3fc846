/**
 * From a plan connection (`mysql://user@host:3306/db` or `mariadb://…`, plus
 * a password given apart) to a mysql2 pool whose sessions all speak the
 * canonical value model: UTC, strict SQL mode, exact numbers, text dates.
 */
import mysql from 'mysql2/promise'
import type { Pool, PoolConnection, PoolOptions } from 'mysql2/promise'
import { SynclineError } from '../../errors.js'
import type { ConnectionConfig } from '../connector.js'
import { hasStrayAt, redactUrl, STRAY_AT_FIX } from '../server-url.js'

/** Where a connection points, for messages (never includes the password). */
export interface Endpoint {
  host: string
  port: number
  /** The URL's database; entities without a `db.` prefix live here. Empty when the URL names none. */
  database: string
  user: string
  /** `host:port/database`. */
  label: string
  /** The URL has an '@' after its host ({@link hasStrayAt}): the host is likely a piece of the password. */
  strayAt: boolean
}

/**
 * The SQL mode of every session. Strict, so MySQL rejects instead of
 * truncating or clamping a value (`STRICT_ALL_TABLES`, not only
 * transactional tables); no zero dates; and `NO_AUTO_VALUE_ON_ZERO`, so a
 * source row with id 0 lands as 0 rather than as the next AUTO_INCREMENT value.
 */
export const SQL_MODE = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO'

/**
 * Session settings every connection starts with. `time_zone` makes
 * TIMESTAMP columns and NOW() read in UTC (the codec reads DATETIME as UTC
 * too). A scan streams one result set while its consumer writes elsewhere,
 * so the server may wait on a full socket for a while: `net_write_timeout`
 * (default 60 s) is raised so a slow destination does not abort the read.
 */
const SESSION_SETUP = `SET SESSION time_zone = '+00:00', sql_mode = '${SQL_MODE}', net_write_timeout = 3600`

const DEFAULT_PORT = 3306

function parseUrl(url: string): URL {
  try {
    return new URL(url)
  } catch (cause) {
    const fix = hasStrayAt(url) ? ` ${STRAY_AT_FIX}.` : ''
    throw new SynclineError('PLAN_INVALID', 'config', `Not a valid MySQL URL: ${displayUrl(url)}. Use mysql://user@host:3306/database.${fix}`, { cause })
  }
}

/** The URL as it may be shown: user-info password and a `password` query parameter masked. */
export function displayUrl(url: string): string {
  return redactUrl(url)
}

/**
 * Where a `mysql://` or `mariadb://` URL points.
 * @example endpointOf('mysql://sync@db:3307/shop') // { host: 'db', port: 3307, database: 'shop', user: 'sync', label: 'db:3307/shop' }
 */
export function endpointOf(url: string): Endpoint {
  const parsed = parseUrl(url)
  const host = decodeURIComponent(parsed.hostname.replace(/^\[(.*)\]$/, '$1')) || 'localhost'
  const port = Number(parsed.port || DEFAULT_PORT)
  const user = parsed.searchParams.get('user') ?? (decodeURIComponent(parsed.username) || 'root')
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''))
  return { host, port, database, user, label: `${host}:${port}/${database}`, strayAt: hasStrayAt(url) }
}

/** Pool settings; a connector creates its pool on first use. */
export interface PoolSettings {
  /** Most connections open at once. Default 10. */
  max?: number
}

/**
 * mysql2 options for a plan connection: the password given apart (if any)
 * overrides the URL's. `?ssl=true` asks for TLS with a verified
 * certificate, `?ssl=skip-verify` for TLS without verification,
 * `?socket=/run/mysqld/mysqld.sock` for a Unix socket. Keep the result out of logs.
 */
export function poolOptions(config: ConnectionConfig, settings: PoolSettings = {}): PoolOptions {
  const url = parseUrl(config.url)
  const endpoint = endpointOf(config.url)
  const password = config.password ?? url.searchParams.get('password') ?? (url.password ? decodeURIComponent(url.password) : undefined)
  const ssl = url.searchParams.get('ssl')
  const socket = url.searchParams.get('socket')
  return {
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.user,
    ...(password !== undefined ? { password } : {}),
    ...(endpoint.database ? { database: endpoint.database } : {}),
    ...(socket ? { socketPath: socket } : {}),
    ...(ssl === 'true' || ssl === 'required' ? { ssl: {} } : ssl === 'skip-verify' ? { ssl: { rejectUnauthorized: false } } : {}),
    charset: 'UTF8MB4_UNICODE_CI',
    // The codec decides every value: int64 beyond 2^53 as text (then
    // BigInt), DECIMAL as text, temporal values as text (microseconds
    // kept, no Date), JSON as text (then canonical).
    supportBigNumbers: true,
    bigNumberStrings: false,
    decimalNumbers: false,
    dateStrings: true,
    jsonStrings: true,
    // Affected rows count changed rows only, so an upsert that changes
    // nothing reports 0 (mysql2 asks for found rows by default).
    flags: ['-FOUND_ROWS'],
    connectionLimit: settings.max ?? 10,
    maxIdle: settings.max ?? 10,
    idleTimeout: 10_000,
    connectTimeout: 15_000,
    enableKeepAlive: true,
    // Statements are prepared per connection and cached; the server allows
    // 16,382 in all (max_prepared_stmt_count), so keep each connection's share small.
    maxPreparedStatements: 200,
    multipleStatements: false,
  }
}

/**
 * A pool whose connections run {@link SESSION_SETUP} before their first
 * statement (mysql2 queues commands per connection, so the SET runs first).
 * A connection that raises an error while idle or between statements is
 * dropped by the pool; the listener added here keeps such an error from
 * crashing the process, and the next statement on it reports the error.
 */
export function createPool(config: ConnectionConfig, settings: PoolSettings = {}): Pool {
  const pool = mysql.createPool(poolOptions(config, settings))
  pool.pool.on('connection', (connection) => {
    connection.on('error', () => undefined)
    connection.query(SESSION_SETUP, (error: unknown) => {
      // A session that could not be set up must not serve queries.
      if (error) connection.destroy()
    })
  })
  return pool
}

/** A connection checked out of the pool for a scan or a transaction. */
export interface HeldConnection {
  connection: PoolConnection
  /** Return the connection; a `broken` one is destroyed instead of reused. */
  release(broken?: boolean): void
}

/** Check a connection out of the pool. */
export async function holdConnection(pool: Pool): Promise<HeldConnection> {
  const connection = await pool.getConnection()
  let released = false
  return {
    connection,
    release(broken = false) {
      if (released) return
      released = true
      if (broken) connection.destroy()
      else connection.release()
    },
  }
}
