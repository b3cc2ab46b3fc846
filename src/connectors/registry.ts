/**
 * Picks a connector for a connection URL by its scheme and loads it lazily,
 * so a plan that only uses SQLite never loads the PostgreSQL driver.
 */
import { SynclineError } from '../errors.js'
import type { ConnectionConfig, Connector } from './connector.js'

type Factory = (config: ConnectionConfig) => Connector

const FACTORIES: Record<string, () => Promise<Factory>> = {
  sqlite: async () => (await import('./sqlite/connector.js')).createSqliteConnector,
  postgres: async () => (await import('./postgres/connector.js')).createPostgresConnector,
  postgresql: async () => (await import('./postgres/connector.js')).createPostgresConnector,
  mysql: async () => (await import('./mysql/connector.js')).createMysqlConnector,
  mariadb: async () => (await import('./mysql/connector.js')).createMysqlConnector,
  csv: async () => (await import('./file/connector.js')).createFileConnector,
  ndjson: async () => (await import('./file/connector.js')).createFileConnector,
  webhook: async () => (await import('./webhook/connector.js')).createWebhookConnector,
}

/** The URL schemes syncline understands today. */
export const SUPPORTED_SCHEMES = Object.keys(FACTORIES)

/** The scheme of a connection URL (`sqlite` for `sqlite:./shop.db`). */
export function urlScheme(url: string): string {
  const match = /^([a-z][a-z0-9+.-]*):/i.exec(url)
  return match ? match[1]!.toLowerCase() : ''
}

/**
 * Create the connector for a connection. Connecting happens on first use.
 * @example const shop = await createConnector({ name: 'shop', url: 'sqlite:./shop.db' })
 */
export async function createConnector(config: ConnectionConfig): Promise<Connector> {
  const scheme = urlScheme(config.url)
  const load = FACTORIES[scheme]
  if (!load) {
    throw new SynclineError(
      'PLAN_INVALID',
      'config',
      `Connection '${config.name}': unsupported URL scheme '${scheme || config.url}'. Use one of: sqlite:PATH, postgres://user@host:5432/db, mysql://user@host:3306/db (or mariadb://…), csv:DIR, ndjson:DIR, webhook:https://host/path.`,
    )
  }
  const factory = await load()
  return factory(config)
}

/**
 * The URL with any password replaced by `***`, safe for logs and errors: the
 * one in the user info (up to the last `@`, so a password holding an
 * unencoded `@`, `/`, `?` or `#` is hidden whole) and a `password=` query
 * parameter. A URL with `@` in its path loses a little more than its
 * password (`host:***@db`); never less.
 * @example redactUrl('postgres://u:s3cret@h/db?sslpassword=x') // 'postgres://u:***@h/db?sslpassword=***'
 */
export function redactUrl(url: string): string {
  const withoutQuerySecrets = url.replace(/([?&][a-z]*pass(?:word)?=)[^&#]*/gi, '$1***')
  const match = /^([a-z][a-z0-9+.-]*:\/\/)(.*)$/is.exec(withoutQuerySecrets)
  if (!match) return withoutQuerySecrets
  const [, scheme, rest = ''] = match
  const at = rest.lastIndexOf('@')
  const colon = rest.indexOf(':')
  if (at < 0 || colon < 0 || colon > at) return withoutQuerySecrets
  return `${scheme}${rest.slice(0, colon)}:***${rest.slice(at)}`
}

/**
 * Whether a server URL has an `@` after its host (in its path, or after a
 * `?` or `#` straight after the host): the sign of a password (or user
 * name) holding an unencoded `@`, `/`, `?` or `#`, which moves a piece of
 * the password into the host (`postgres://u:p@ss/w@db/x` reads as host
 * `ss`). An `@` in a query parameter after the path is fine.
 * @example hasStrayAt('mysql://u:p@ss/w@db/x') // true
 */
export function hasStrayAt(url: string): boolean {
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(.*)$/is.exec(url)
  const rest = match?.[1] ?? ''
  const at = rest.indexOf('@')
  if (at < 0) return false
  if (!rest.startsWith('/')) return true
  const queryOrFragment = rest.search(/[?#]/)
  return queryOrFragment < 0 || at < queryOrFragment
}

/** What to tell a user whose URL {@link hasStrayAt}, without repeating any of the URL. */
export const STRAY_AT_FIX =
  "the URL has an '@' after its host: a password (or user name) holding an unencoded '@', '/', '?' or '#' cuts the URL in the wrong place: " +
  "percent-encode them in the password as %40, %2F, %3F and %23, or leave the password out of the URL and set password: ${VAR} in the connection " +
  "(a database name with '@' is written %40 too)"
