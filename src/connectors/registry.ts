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
      `Connection '${config.name}': unsupported URL scheme '${scheme || config.url}'. Use one of: sqlite:PATH, postgres://user@host:5432/db, mysql://user@host:3306/db (or mariadb://…), csv:DIR, ndjson:DIR.`,
    )
  }
  const factory = await load()
  return factory(config)
}

/**
 * The URL with any password replaced by `***`, safe for logs and errors: the
 * one in the user info (even with an unescaped `@` in it) and a
 * `password=` query parameter.
 * @example redactUrl('postgres://u:s3cret@h/db?sslpassword=x') // 'postgres://u:***@h/db?sslpassword=***'
 */
export function redactUrl(url: string): string {
  const withoutQuerySecrets = url.replace(/([?&][a-z]*pass(?:word)?=)[^&#]*/gi, '$1***')
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(withoutQuerySecrets)
  if (!match) return withoutQuerySecrets
  const [, scheme, authority = '', rest] = match
  const at = authority.lastIndexOf('@')
  if (at < 0) return withoutQuerySecrets
  const userInfo = authority.slice(0, at)
  const colon = userInfo.indexOf(':')
  if (colon < 0) return withoutQuerySecrets
  return `${scheme}${userInfo.slice(0, colon)}:***${authority.slice(at)}${rest}`
}
