/**
 * Change capture for PostgreSQL: which mechanism serves a connection's
 * feeds. `cdc: auto` (the default) reads the WAL through logical
 * replication (logical-feed.ts, replication-slot.ts); `cdc: triggers`
 * fills a change log with triggers (trigger-capture.ts), for servers where
 * the user has no REPLICATION right. `auto` never switches by itself: its
 * errors name `cdc: triggers` as the other way.
 */
import type { ChangeFeed, ChangeFeedOptions, ChangeFeedStatus } from '../change-feed.js'
import { classifyPgError } from './errors.js'
import { openLogicalFeed, type FeedContext } from './logical-feed.js'
import { dropSlot, listSlots } from './replication-slot.js'
import type { TriggerCapture } from './trigger-capture.js'

/** Open a change feed on an entity (see Connector.openChangeFeed). */
export async function openChangeFeed(ctx: FeedContext, triggers: TriggerCapture, entity: string, opts: ChangeFeedOptions): Promise<ChangeFeed> {
  if (ctx.config.cdc === 'triggers') return triggers.openChangeFeed(entity, opts)
  try {
    return await openLogicalFeed(ctx, entity, opts)
  } catch (error) {
    throw classifyPgError(error, ctx.errorContext(entity))
  }
}

/** Forget a consumer: its slot (once no feed reads it) and publication, or its change-log position. */
export async function dropChangeFeed(ctx: FeedContext, triggers: TriggerCapture, consumer: string, signal?: AbortSignal): Promise<void> {
  if (ctx.config.cdc === 'triggers') return triggers.dropChangeFeed(consumer)
  try {
    await dropSlot(ctx.pool(), consumer, signal)
  } catch (error) {
    throw classifyPgError(error, ctx.errorContext())
  }
}

/** The consumers this connection's mechanism keeps in this database. */
export async function listChangeFeeds(ctx: FeedContext, triggers: TriggerCapture): Promise<ChangeFeedStatus[]> {
  if (ctx.config.cdc === 'triggers') return triggers.listChangeFeeds()
  try {
    return await listSlots(ctx.pool())
  } catch (error) {
    throw classifyPgError(error, ctx.errorContext())
  }
}
