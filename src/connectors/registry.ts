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
      `Connection '${config.name}': unsupported URL scheme '${scheme || config.url}'. Use one of: sqlite:PATH, postgres://user@host:5432/db.`,
    )
  }
  const factory = await load()
  return factory(config)
}

/** The URL with any password replaced by `***`, safe for logs and errors. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@')
}
