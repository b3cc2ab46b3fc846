/**
 * Realtime sync (`mode: realtime`, DESIGN §3 "Realtime"): compare the source
 * with the destination once, at a change feed's snapshot, then apply every
 * change the feed delivers, batch by batch, until the run's signal stops it.
 *
 * Checkpoints follow the write: a batch is applied (one transaction), then
 * its position is saved in the state store, then acknowledged to the source.
 * A crash anywhere in between replays the batch on restart, and replaying
 * whole-row upserts and deletes lands the same rows (docs/realtime.md).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { ChangeBatch, ChangeFeed, ChangeFeedOptions } from '../connectors/change-feed.js'
import type { Connector } from '../connectors/connector.js'
import { SynclineError } from '../errors.js'
import type { FeedPosition, SyncFacts } from '../state/state-store.js'
import { changeMapping, changeOperations, type ChangeMapping } from './change-batches.js'
import { consumerName } from './consumer-name.js'
import { refillReason } from './delivery-facts.js'
import { fullSync } from './full-sync.js'
import { report, type RunContext } from './run-context.js'

/** Empty batches (the source moved on, nothing for this entity) are saved and acknowledged at most this often. */
const IDLE_CHECKPOINT_MS = 1000
/** Streaming progress is reported at most this often. */
const PROGRESS_INTERVAL_MS = 250

/**
 * Run a realtime sync until `ctx.signal` stops it (then `ctx.stoppedStreaming`
 * is set and it resolves). A dry run only compares (a full comparison by
 * scanning, without opening a feed, which would create a consumer at the
 * source) and ends.
 */
export async function realtimeSync(ctx: RunContext, facts?: SyncFacts): Promise<void> {
  const p = ctx.prepared
  requireBatchCommits(p.plan.id, p.destination)
  if (ctx.dryRun) return fullSync(ctx)
  const open = feedOpener(p.source, p.sourceEntity.name)
  const consumer = consumerName(p.plan.id)
  const options: ChangeFeedOptions = { consumer, keys: p.keys, maxBatchSize: p.plan.batchSize, signal: ctx.signal }

  let feed = await resume(ctx, open, options, facts)
  const mapping = changeMapping(p)
  const health: StreamHealth = { applied: 0, outages: 0 }
  try {
    for (;;) {
      try {
        await stream(ctx, feed, mapping, consumer, health)
        return
      } catch (error) {
        await feed.close().catch(() => undefined)
        if (isPositionLost(error)) {
          ctx.notes.push(lostNote(error))
          feed = await startAfresh(ctx, open, options)
          continue
        }
        if (!(error instanceof SynclineError && error.failure === 'transient') || ctx.signal?.aborted) throw error
        const reopened = await reconnect(ctx, open, options, error, health)
        if (!reopened) return
        feed = reopened
      }
    }
  } finally {
    await feed.close().catch(() => undefined)
  }
}

/** How the stream fares across reconnections. */
interface StreamHealth {
  /** Batches received in this run. */
  applied: number
  /** Reconnections after transient errors in this run. */
  outages: number
  /** `applied` when the current outage began: batches landing since mean a new outage, with a fresh retry budget. */
  appliedAtOutage?: number
  /** Failed attempts in the current outage. */
  attempts?: number
  /** Index in `ctx.notes` of the note about reconnections. */
  note?: number
}

/** The first reconnection waits this long; each further attempt in one outage twice as long, up to {@link RECONNECT_MAX_MS}. */
const RECONNECT_FIRST_MS = 500
const RECONNECT_MAX_MS = 30_000

/**
 * After a transient error (a connection lost), open the feed again from the
 * saved position: up to the plan's `retries` attempts per outage, with
 * exponential backoff and jitter. Past them the error ends the run (the
 * daemon restarts it). Undefined when the run was stopped meanwhile.
 */
async function reconnect(ctx: RunContext, open: OpenFeed, options: ChangeFeedOptions, first: SynclineError, health: StreamHealth): Promise<ChangeFeed | undefined> {
  if (health.appliedAtOutage !== health.applied) health.attempts = 0
  health.appliedAtOutage = health.applied
  let error: unknown = first
  for (;;) {
    const attempt = (health.attempts = (health.attempts ?? 0) + 1)
    if (attempt > ctx.prepared.plan.retries) throw error
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** (attempt - 1))
    try {
      await sleep(delay / 2 + Math.random() * (delay / 2), undefined, { signal: ctx.signal })
    } catch {
      ctx.stoppedStreaming = true
      return undefined
    }
    try {
      const feed = await resume(ctx, open, options)
      health.outages++
      const text = `The stream reconnected ${health.outages} time(s) after transient errors (last: ${(first.message.split('\n')[0] ?? '').slice(0, 300)}); it resumed from its saved position each time.`
      if (health.note === undefined) health.note = ctx.notes.push(text) - 1
      else ctx.notes[health.note] = text
      return feed
    } catch (retryError) {
      if (!(retryError instanceof SynclineError && retryError.failure === 'transient')) throw retryError
      error = retryError
    }
  }
}

/**
 * A destination that stages writes until the end of a run (files) would make
 * saved positions run ahead of what is durable; a stream never ends by itself.
 */
function requireBatchCommits(syncId: string, destination: Connector): void {
  if (!destination.capabilities.staging) return
  throw new SynclineError(
    'CAPABILITY_MISSING',
    'config',
    `Sync '${syncId}': mode: realtime commits batch by batch, but the destination connection '${destination.name}' (${destination.kind}) writes its files whole at the end of a run (capabilities.staging). Use mode: full or incremental for this destination, or stream into a database.`,
  )
}

type OpenFeed = (options: ChangeFeedOptions) => Promise<ChangeFeed>

/** The source's `openChangeFeed` on the sync's entity; a connector declaring `cdc` must have it. */
function feedOpener(source: Connector, entity: string): OpenFeed {
  const open = source.openChangeFeed
  if (!open) {
    throw new SynclineError('INTERNAL', 'internal', `Connector '${source.name}' (${source.kind}) declares capabilities.cdc but has no openChangeFeed; a connector's flags must match its methods (see docs/connectors.md).`)
  }
  return (options) => open.call(source, entity, options)
}

/**
 * Open the feed where the last run stopped, or start afresh (first run,
 * `--full`, lost or moved position, and, with the facts of the last run, a
 * destination that lost what was delivered: recreated, emptied, fewer rows).
 */
async function resume(ctx: RunContext, open: OpenFeed, options: ChangeFeedOptions, facts?: SyncFacts): Promise<ChangeFeed> {
  const p = ctx.prepared
  const saved = await ctx.state.getFeedPosition(p.plan.id)
  if (saved === undefined || ctx.full) return startAfresh(ctx, open, options)
  const refill = facts && (await refillReason(ctx, saved, facts))
  if (refill) {
    ctx.notes.push(refill)
    return startAfresh(ctx, open, options)
  }
  if (saved.connection !== p.plan.source.connection || saved.entity !== p.plan.source.entity || saved.consumer !== options.consumer) {
    ctx.notes.push(
      `The sync's source was ${saved.connection}.${saved.entity} when its position was saved and is ${p.plan.source.connection}.${p.plan.source.entity} now; it started afresh with a snapshot comparison.`,
    )
    return startAfresh(ctx, open, options)
  }
  try {
    return await open({ ...options, from: saved.position })
  } catch (error) {
    if (!isPositionLost(error)) throw error
    ctx.notes.push(lostNote(error))
    return startAfresh(ctx, open, options)
  }
}

/**
 * A new feed and a key + row comparison of its snapshot with the
 * destination (the full-sync merge: only differences are written), then its
 * start position saved. Any consumer left from before is dropped first, so
 * the source keeps nothing for a position that will never be read.
 */
async function startAfresh(ctx: RunContext, open: OpenFeed, options: ChangeFeedOptions): Promise<ChangeFeed> {
  const p = ctx.prepared
  await p.source.dropChangeFeed?.(options.consumer, { signal: ctx.signal })
  const feed = await open(options)
  try {
    const rows = feed.snapshot({ fields: p.mapper.sourceFields, keys: p.keys, filters: p.filters, batchSize: p.plan.batchSize, signal: ctx.signal })
    const { created, updated, deleted } = ctx.counts
    await fullSync(ctx, undefined, { rows, mayBeEmpty: created + updated + deleted === 0 })
    // Streamed changes may touch rows that exist: never the bulk path now.
    ctx.writer.allNew = false
    await savePosition(ctx, options.consumer, feed.start, undefined)
    await feed.ack(feed.start)
    return feed
  } catch (error) {
    await feed.close().catch(() => undefined)
    throw error
  }
}

/** Apply batches as they arrive until the signal stops the feed. */
async function stream(ctx: RunContext, feed: ChangeFeed, mapping: ChangeMapping, consumer: string, health: StreamHealth): Promise<void> {
  const p = ctx.prepared
  const changes = feed.changes()[Symbol.asyncIterator]()
  // One checkpoint (save, then ack) runs while the next batch is applied.
  let checkpoint: Promise<void> = Promise.resolve()
  let lastSaved = Date.now()
  let lastReport = 0
  let unsaved: ChangeBatch | undefined
  let lagSeconds = 0
  report(ctx, 'stream', ctx.counts.read, undefined, `Streaming changes of ${p.sourceEntity.name} into ${p.destinationEntity.name}`, 0)
  try {
    for (;;) {
      let next: IteratorResult<ChangeBatch>
      try {
        next = await changes.next()
      } catch (error) {
        // A feed may end its wait with an error when the signal fires: that is the stop asked for.
        if (ctx.signal?.aborted) break
        throw error
      }
      if (next.done) {
        if (ctx.signal?.aborted) break
        throw new SynclineError('CONNECTION_LOST', 'transient', `The change feed of ${p.source.name}.${p.sourceEntity.name} ended without being stopped; run the sync again to resume from its saved position.`)
      }
      const batch = next.value
      health.applied++
      if (batch.changes.length === 0) {
        unsaved = batch
        if (Date.now() - lastSaved >= IDLE_CHECKPOINT_MS) {
          await checkpoint
          checkpoint = commitCheckpoint(ctx, feed, consumer, batch, new Date().toISOString())
          lastSaved = Date.now()
          unsaved = undefined
        }
        lagSeconds = 0
      } else {
        const operations = await changeOperations(ctx, mapping, batch.changes)
        await ctx.writer.write(operations)
        // The previous checkpoint must land first: positions are saved in order.
        await checkpoint
        const committedAt = batch.changes[batch.changes.length - 1]!.committedAt
        checkpoint = commitCheckpoint(ctx, feed, consumer, batch, committedAt)
        lastSaved = Date.now()
        unsaved = undefined
        lagSeconds = committedAt === undefined ? 0 : Math.max(0, (Date.now() - Date.parse(committedAt)) / 1000)
      }
      if (Date.now() - lastReport >= PROGRESS_INTERVAL_MS) {
        lastReport = Date.now()
        report(ctx, 'stream', ctx.counts.read, undefined, `${ctx.counts.read} changes applied, lag ${lagSeconds.toFixed(3)} s`, lagSeconds)
      }
      if (ctx.signal?.aborted) break
    }
    await checkpoint
    // Stopping: the newest position seen, even an idle one, so a restart skips nothing twice.
    if (unsaved) await commitCheckpoint(ctx, feed, consumer, unsaved, new Date().toISOString())
  } finally {
    await checkpoint.catch(() => undefined)
    await changes.return?.().catch(() => undefined)
  }
  ctx.stoppedStreaming = ctx.signal?.aborted === true
}

/** Save the batch's position (after its write committed), then acknowledge it to the source. */
async function commitCheckpoint(ctx: RunContext, feed: ChangeFeed, consumer: string, batch: ChangeBatch, committedAt: string | undefined): Promise<void> {
  await savePosition(ctx, consumer, batch.position, committedAt)
  await feed.ack(batch.position)
}

async function savePosition(ctx: RunContext, consumer: string, position: string, committedAt: string | undefined): Promise<void> {
  const { plan } = ctx.prepared
  const saved: FeedPosition = { syncId: plan.id, consumer, connection: plan.source.connection, entity: plan.source.entity, position, updatedAt: new Date().toISOString() }
  if (committedAt !== undefined) saved.committedAt = committedAt
  await ctx.state.setFeedPosition(saved)
}

function isPositionLost(error: unknown): error is SynclineError {
  return error instanceof SynclineError && error.code === 'POSITION_LOST'
}

function lostNote(error: SynclineError): string {
  const reason = error.message.split('\n')[0] ?? error.message
  return `The saved stream position could no longer be served (${reason}); a fresh feed's snapshot was compared with the destination by key and row, and only the differences were written.`
}
