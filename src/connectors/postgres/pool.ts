/**
 * From a plan connection (`postgres://user@host:5432/db` plus a password
 * given apart) to a pg Pool whose connections all speak the canonical value
 * model: UTC, ISO dates, full float digits, and the codec's own parsers.
 */
import pg from 'pg'
import { SynclineError } from '../../errors.js'
import type { ConnectionConfig } from '../connector.js'
import { hasStrayAt, redactUrl, STRAY_AT_FIX } from '../server-url.js'
import { canonicalTypes } from './codec.js'

/** Where a connection points, for messages (never includes the password). */
export interface Endpoint {
  host: string
  port: number
  database: string
  user: string
  /** `host:port/database`. */
  label: string
  /** The URL has an '@' after its host ({@link hasStrayAt}): the host is likely a piece of the password. */
  strayAt: boolean
}

/**
 * Session settings every connection starts with, sent as startup options so
 * they cost no round trip: timestamps print in UTC and ISO style (the codec's
 * fast path expects it), floats print with all their digits.
 */
const SESSION_OPTIONS = '-c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=3'

/** Where a `postgres://` URL points. */
export function endpointOf(url: string): Endpoint {
  const parsed = parseUrl(url)
  const host = parsed.searchParams.get('host') ?? (decodeURIComponent(parsed.hostname.replace(/^\[(.*)\]$/, '$1')) || 'localhost')
  const port = Number(parsed.searchParams.get('port') ?? (parsed.port || 5432))
  const user = parsed.searchParams.get('user') ?? (decodeURIComponent(parsed.username) || process.env.PGUSER || 'postgres')
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || user
  return { host, port, database, user, label: `${host}:${port}/${database}`, strayAt: hasStrayAt(url) }
}

/** The URL as it may be shown: user-info password and a `password` query parameter masked. */
export function displayUrl(url: string): string {
  return redactUrl(url).replace(/([?&]password=)[^&#]*/gi, '$1***')
}

function parseUrl(url: string): URL {
  try {
    return new URL(url)
  } catch (cause) {
    const fix = hasStrayAt(url) ? ` ${STRAY_AT_FIX}.` : ''
    throw new SynclineError('PLAN_INVALID', 'config', `Not a valid PostgreSQL URL: ${displayUrl(url)}. Use postgres://user@host:5432/database.${fix}`, { cause })
  }
}

/**
 * The pg connection string for a plan connection: the password given apart
 * (if any) overrides the URL's, and the session options are appended after
 * any the URL carries, so they win. Keep the result out of logs.
 */
export function connectionString(config: ConnectionConfig): string {
  const url = parseUrl(config.url)
  if (url.protocol === 'postgresql:') url.protocol = 'postgres:'
  if (config.password !== undefined) {
    // pg reads a `password` query parameter before the URL's user-info, and
    // it works for socket URLs without a host too.
    url.password = ''
    url.searchParams.set('password', config.password)
  }
  const options = url.searchParams.get('options')
  url.searchParams.set('options', options ? `${options} ${SESSION_OPTIONS}` : SESSION_OPTIONS)
  return url.toString()
}

/** Pool settings; a connector creates its pool on first use. */
export interface PoolSettings {
  /** Most connections open at once. Default 10. */
  max?: number
}

/**
 * A pool whose clients use the canonical type parsers (set per pool, never
 * in pg's global registry). Idle-client errors (a server restart, a
 * terminated backend) are swallowed: the pool drops that client and the next
 * query opens a fresh one, while the error surfaces on the next use instead
 * of crashing the process.
 */
export function createPool(config: ConnectionConfig, settings: PoolSettings = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: connectionString(config),
    types: canonicalTypes,
    application_name: 'syncline',
    max: settings.max ?? 10,
    idleTimeoutMillis: 10_000,
    connectionTimeoutMillis: 15_000,
    keepAlive: true,
  })
  pool.on('error', () => undefined)
  return pool
}

/** A client checked out of the pool, guarded against errors it emits while held. */
export interface HeldClient {
  client: pg.PoolClient
  /** The error the connection raised while held (a terminated backend, a reset socket), if any. */
  readonly lost: unknown
  /** Return the client; a lost or `broken` connection is destroyed instead of reused. */
  release(broken?: boolean): void
}

/**
 * Check a client out for longer work (a scan, a transaction). pg-pool only
 * listens for errors on idle clients; a held client whose connection dies
 * emits 'error', which would crash the process without this listener. The
 * error itself also reaches the pending query, which is where it is handled.
 */
export async function holdClient(pool: pg.Pool): Promise<HeldClient> {
  const client = await pool.connect()
  let lost: unknown
  const onError = (error: unknown) => {
    lost ??= error
  }
  client.on('error', onError)
  return {
    client,
    get lost() {
      return lost
    },
    release(broken = false) {
      client.off('error', onError)
      client.release(broken || lost !== undefined ? true : undefined)
    },
  }
}
