/**
 * Change capture for PostgreSQL: which mechanism serves a connection's
 * feeds. `cdc: auto` (the default) reads the WAL through logical
 * replication (logical-feed.ts, replication-slot.ts); `cdc: triggers` is
 * for servers where the user has no REPLICATION right (trigger-capture.ts
 * and the trigger-*.ts files beside it). `auto` never falls back to
 * triggers by itself: check and the CDC_NOT_READY error name both fixes.
 */
import type { ChangeFeed, ChangeFeedOptions, ChangeFeedStatus } from '../change-feed.js'
import { openLogicalFeed, type FeedContext } from './logical-feed.js'
import { dropSlot, listSlots } from './replication-slot.js'
import { classifyPgError } from './errors.js'
import type { TriggerCapture } from './trigger-capture.js'

/** What the dispatcher needs: the logical-replication context and the connection's trigger change log. */
export interface CaptureContext extends FeedContext {
  triggers: TriggerCapture
}

/** Open a change feed on an entity (see Connector.openChangeFeed). */
export async function openChangeFeed(ctx: CaptureContext, entity: string, opts: ChangeFeedOptions): Promise<ChangeFeed> {
  if (ctx.config.cdc === 'triggers') return ctx.triggers.openChangeFeed(entity, opts)
  try {
    return await openLogicalFeed(ctx, entity, opts)
  } catch (error) {
    throw classifyPgError(error, ctx.errorContext(entity))
  }
}

/** Forget a consumer: its slot (once no feed reads it) and its publication. */
export async function dropChangeFeed(ctx: CaptureContext, consumer: string, signal?: AbortSignal): Promise<void> {
  if (ctx.config.cdc === 'triggers') return ctx.triggers.dropChangeFeed(consumer)
  try {
    await dropSlot(ctx.pool(), consumer, signal)
  } catch (error) {
    throw classifyPgError(error, ctx.errorContext())
  }
}

/** The consumers whose slots (or, with cdc: triggers, change-log positions) live in this database. */
export async function listChangeFeeds(ctx: CaptureContext): Promise<ChangeFeedStatus[]> {
  if (ctx.config.cdc === 'triggers') return ctx.triggers.listChangeFeeds()
  try {
    return await listSlots(ctx.pool())
  } catch (error) {
    throw classifyPgError(error, ctx.errorContext())
  }
}
