/**
 * Trigger-based change capture wired for the PostgreSQL connector: what
 * `openChangeFeed`, `dropChangeFeed`, `listChangeFeeds` and `check` do
 * when the connection says `cdc: triggers`.
 */
import pg from 'pg'
import type { ChangeFeed, ChangeFeedOptions, ChangeFeedStatus } from '../change-feed.js'
import type { ConnectionConfig } from '../connector.js'
import { classifyPgError } from './errors.js'
import { connectionString, holdClient, type Endpoint } from './pool.js'
import type { PgTable } from './introspect.js'
import type { PgContext } from './source.js'

/** The connector's context, with the set of its open feeds (closing the connector closes them). */
type ConnectorContext = PgContext & { openFeeds?: Set<ChangeFeed> }
import { checkTriggerCapture, type TriggerCheck } from './trigger-check.js'
import { openTriggerFeed, type TriggerContext } from './trigger-feed.js'
import { dropConsumer, listConsumers } from './trigger-setup.js'

/** The trigger change log of one connection. */
export class TriggerCapture {
  readonly #ctx: TriggerContext

  constructor(
    config: ConnectionConfig,
    private readonly source: ConnectorContext,
    endpoint: Endpoint,
    refreshTable: (entity: string) => Promise<PgTable>,
  ) {
    this.#ctx = {
      ...source,
      endpoint,
      refreshTable,
      newClient: (applicationName) => new pg.Client({ connectionString: connectionString(config), application_name: applicationName, keepAlive: true }),
    }
  }

  openChangeFeed(entity: string, opts: ChangeFeedOptions): Promise<ChangeFeed> {
    return openTriggerFeed(this.#ctx, entity, opts)
  }

  /** Forget a consumer (idempotent; nothing to do where the change log was never installed). */
  async dropChangeFeed(consumer: string): Promise<void> {
    const held = await holdClient(this.source.pool())
    try {
      await dropConsumer(held.client, consumer)
    } catch (error) {
      throw classifyPgError(error, this.source.errorContext())
    } finally {
      held.release()
    }
  }

  async listChangeFeeds(): Promise<ChangeFeedStatus[]> {
    try {
      return await listConsumers(this.source.pool())
    } catch (error) {
      throw classifyPgError(error, this.source.errorContext())
    }
  }

  check(): Promise<TriggerCheck> {
    return checkTriggerCapture(this.source.pool())
  }
}
