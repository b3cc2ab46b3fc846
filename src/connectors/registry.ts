/**
 * Picks a connector for a connection URL by its scheme and loads it lazily,
 * so a plan that only uses SQLite never loads the PostgreSQL driver.
 */
import { SynclineError } from '../errors.js'
import type { ConnectionConfig, Connector } from './connector.js'
import { fileUrlRules } from './file/url.js'
import { mysqlUrlRules } from './mysql/url.js'
import { postgresUrlRules } from './postgres/url.js'
import { sqliteUrlRules } from './sqlite/url.js'
import { webhookUrlRules } from './webhook/url.js'
import type { ConnectionUrlRules } from './url-rules.js'

export { hasStrayAt, redactUrl, STRAY_AT_FIX } from './server-url.js'

/** Creates a connector for one connection (connecting happens on first use). */
export type ConnectorFactory = (config: ConnectionConfig) => Connector

/** One connector as the registry knows it. Adding a connector is adding one of these. */
export interface ConnectorEntry {
  /** The URL schemes it handles, lower case (`['mysql', 'mariadb']`). */
  schemes: readonly string[]
  /** How its URLs look, for "use one of" messages (`postgres://user@host:5432/db`). */
  example: string
  /** Its static URL checks (driver-free, so validation loads no driver). */
  urlRules: ConnectionUrlRules
  /** Whether its connections take `token:` and `secret:` (HTTP endpoints); default false. */
  takesTokens?: boolean
  /** The `cdc:` settings its connections accept (none: it has no change capture). */
  cdcMethods?: readonly ('auto' | 'triggers')[]
  /** Loads its module lazily and returns its factory. */
  load(): Promise<ConnectorFactory>
}

/** Every connector, in the order messages list them. */
export const CONNECTORS: readonly ConnectorEntry[] = [
  {
    schemes: ['sqlite'],
    example: 'sqlite:PATH (e.g. sqlite:./shop.db)',
    urlRules: sqliteUrlRules,
    cdcMethods: ['auto', 'triggers'],
    load: async () => (await import('./sqlite/connector.js')).createSqliteConnector,
  },
  {
    schemes: ['postgres', 'postgresql'],
    example: 'postgres://user@host:5432/db',
    urlRules: postgresUrlRules,
    cdcMethods: ['auto', 'triggers'],
    load: async () => (await import('./postgres/connector.js')).createPostgresConnector,
  },
  {
    schemes: ['mysql', 'mariadb'],
    example: 'mysql://user@host:3306/db (mariadb:// too)',
    urlRules: mysqlUrlRules,
    cdcMethods: ['auto'],
    load: async () => (await import('./mysql/connector.js')).createMysqlConnector,
  },
  {
    schemes: ['csv', 'ndjson'],
    example: 'csv:DIR / ndjson:DIR for a directory of files',
    urlRules: fileUrlRules,
    load: async () => (await import('./file/connector.js')).createFileConnector,
  },
  {
    schemes: ['webhook'],
    example: 'webhook:https://host/path for an HTTP endpoint',
    urlRules: webhookUrlRules,
    takesTokens: true,
    load: async () => (await import('./webhook/connector.js')).createWebhookConnector,
  },
]

/** The URL schemes syncline understands today. */
export const SUPPORTED_SCHEMES = CONNECTORS.flatMap((c) => c.schemes)

/** The connector handling a URL scheme (lower case), if any. */
export function connectorForScheme(scheme: string): ConnectorEntry | undefined {
  return CONNECTORS.find((c) => c.schemes.includes(scheme))
}

/** Every connector's URL example, as one phrase ("a, b, or c"). */
export function supportedExamples(): string {
  const examples = CONNECTORS.map((c) => c.example)
  return examples.length < 2 ? examples.join('') : `${examples.slice(0, -1).join(', ')}, or ${examples.at(-1)!}`
}

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
  const entry = connectorForScheme(scheme)
  if (!entry) {
    throw new SynclineError(
      'PLAN_INVALID',
      'config',
      `Connection '${config.name}': unsupported URL scheme '${scheme || config.url}'. Use ${supportedExamples()}.`,
    )
  }
  const factory = await entry.load()
  return factory(config)
}
