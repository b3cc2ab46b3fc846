/**
 * Change capture for PostgreSQL: which mechanism serves a connection's
 * feeds. `cdc: auto` (the default) reads the WAL through logical
 * replication (logical-feed.ts, replication-slot.ts); `cdc: triggers` is
 * for servers where the user has no REPLICATION right.
 */
import { SynclineError } from '../../errors.js'
import type { ChangeFeed, ChangeFeedOptions, ChangeFeedStatus } from '../change-feed.js'
import { openLogicalFeed, type FeedContext } from './logical-feed.js'
import { dropSlot, listSlots } from './replication-slot.js'
import { classifyPgError } from './errors.js'

function triggersUnsupported(ctx: FeedContext): SynclineError {
  return new SynclineError('CAPABILITY_MISSING', 'config', `Connection '${ctx.config.name}' has cdc: triggers, which this build does not support for PostgreSQL yet. Remove cdc: triggers to use logical replication.`)
}

/** Open a change feed on an entity (see Connector.openChangeFeed). */
export async function openChangeFeed(ctx: FeedContext, entity: string, opts: ChangeFeedOptions): Promise<ChangeFeed> {
  if (ctx.config.cdc === 'triggers') throw triggersUnsupported(ctx)
  try {
    return await openLogicalFeed(ctx, entity, opts)
  } catch (error) {
    throw classifyPgError(error, ctx.errorContext(entity))
  }
}

/** Forget a consumer: its slot (once no feed reads it) and its publication. */
export async function dropChangeFeed(ctx: FeedContext, consumer: string, signal?: AbortSignal): Promise<void> {
  if (ctx.config.cdc === 'triggers') throw triggersUnsupported(ctx)
  try {
    await dropSlot(ctx.pool(), consumer, signal)
  } catch (error) {
    throw classifyPgError(error, ctx.errorContext())
  }
}

/** The consumers whose slots live in this database. */
export async function listChangeFeeds(ctx: FeedContext): Promise<ChangeFeedStatus[]> {
  if (ctx.config.cdc === 'triggers') return []
  try {
    return await listSlots(ctx.pool())
  } catch (error) {
    throw classifyPgError(error, ctx.errorContext())
  }
}
