/**
 * Two-way sync in realtime mode (docs/two-way.md "Realtime"): a change feed
 * on each side, or a feed on one side and cursor polling on the other when
 * that side cannot stream.
 *
 * A feed event only says which keys changed. Each key is decided as in an
 * incremental run (src/engine/conflict-resolution.ts): both sides are looked
 * up as they are now and compared with the base, then written in the same
 * order (pending, destination, source, base). Only then is the feed's
 * position saved and acknowledged, so a process killed anywhere re-reads the
 * batch and converges like an interrupted incremental run.
 *
 * Echoes: an event whose row hashes to the base (the engine's own write
 * coming back, or a change undone) is skipped without a look-up. An event
 * that arrives late, after the engine already wrote its key, finds both sides
 * equal and only moves the base.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { ChangeBatch, ChangeFeed, ChangeFeedOptions } from '../connectors/change-feed.js'
import type { Connector } from '../connectors/connector.js'
import { SynclineError } from '../errors.js'
import { baseKeyId } from '../state/two-way-state.js'
import type { FeedPosition } from '../state/state-store.js'
import type { KeyValues, Row } from '../values/canonical.js'
import { compareValues } from '../values/compare.js'
import { recordId } from './batch-writer.js'
import type { KeyView } from './conflict-resolution.js'
import { consumerName } from './consumer-name.js'
import { rowHash, sameHash } from './row-hash.js'
import { report, type RunContext } from './run-context.js'
import { createTwoWayRun, keyPass, lookupDestination, lookupSource, newView, readChanges, syncKeys, twoWaySync, type TwoWayOptions, type TwoWayRun } from './two-way-sync.js'

/** A side without a feed is polled by its cursor this often. */
const POLL_MS = 1000
/** ...and, with `deletes: propagate`, its deletes are found by a key pass this often (it reads every key of both sides). */
const KEY_PASS_MS = 60_000
/** Empty batches (the log moved on, nothing for this entity) are saved and acknowledged at most this often. */
const IDLE_CHECKPOINT_MS = 1000
/** Streaming progress is reported at most this often. */
const PROGRESS_INTERVAL_MS = 250

type Side = 'source' | 'destination'

/** One side of the sync and, when it streams, its feed. */
interface SideStream {
  side: Side
  connector: Connector
  /** The plan's connection and entity names, saved with the position. */
  connection: string
  planEntity: string
  /** The entity as the connector names it, and its key fields. */
  entity: string
  keys: string[]
  /** Where its position is saved: the sync id (source), `<id>:destination` (destination). */
  positionId: string
  consumer: string
  /** No change capture: read by its cursor instead. */
  polled?: boolean
  feed?: ChangeFeed
  changes?: AsyncIterator<ChangeBatch>
  next?: Promise<Arrival>
  /** The newest empty batch not saved yet. */
  unsaved?: ChangeBatch
  lastSaved: number
}

type Arrival = { stream: SideStream; result: IteratorResult<ChangeBatch> } | { stream: SideStream; error: unknown }

/** Where the destination feed's position of a two-way sync is saved (`:` cannot be in a sync id). */
export function destinationPositionId(syncId: string): string {
  return `${syncId}:destination`
}

/**
 * Run a realtime two-way sync until `ctx.signal` stops it. A dry run only
 * compares both sides in full (opening no feed) and ends.
 */
export async function twoWayRealtimeSync(ctx: RunContext, opts: TwoWayOptions): Promise<void> {
  if (ctx.dryRun) return twoWaySync({ ...ctx, full: true }, opts)
  const p = ctx.prepared
  const sides: SideStream[] = [
    sideStream('source', p.source, p.plan.source, p.sourceEntity.name, p.keys, p.plan.id),
    sideStream('destination', p.destination, p.plan.destination, p.destinationEntity.name, p.destinationKeys, destinationPositionId(p.plan.id)),
  ]
  try {
    let fresh = await openSides(ctx, sides, ctx.full)
    if (!sides.some((s) => s.feed)) {
      throw new SynclineError(
        'CAPABILITY_MISSING',
        'config',
        `Sync '${p.plan.id}': mode: realtime needs a change feed on at least one side, and neither ${p.source.name} (${p.source.kind}) nor ${p.destination.name} (${p.destination.kind}) has change capture. Use mode: incremental with a schedule instead.`,
      )
    }
    // Live: `full` only applies to the first comparison; polls continue from the watermarks it left.
    // No signal: a stop lets the batch in flight finish its writes and checkpoint; the loop stops between batches.
    const run = createTwoWayRun({ ...ctx, full: false, signal: undefined }, opts)
    const health: StreamHealth = { batches: 0, outages: 0 }
    for (;;) {
      if (fresh) {
        // Feeds first, then the comparison: a change made meanwhile is in a feed and decided again, which lands the same rows.
        report(ctx, 'changes', 0, undefined, `Comparing both sides of ${p.plan.id} before streaming`)
        await twoWaySync({ ...ctx, full: true }, opts)
        for (const side of sides) if (side.feed) await checkpoint(ctx, side, side.feed.start, undefined)
      }
      try {
        await stream(ctx, run, sides, health)
        return
      } catch (error) {
        if (ctx.signal?.aborted || !(error instanceof SynclineError)) throw error
        if (error.code === 'POSITION_LOST') {
          // Lost mid-stream: both feeds start afresh and both sides are compared in full (never a blind reload).
          ctx.notes.push(`A stream position could no longer be served (${firstLine(error.message)}); both feeds started afresh, both sides were compared in full and only the differences were written.`)
          await closeFeeds(sides)
          fresh = await openSides(ctx, sides, true)
          continue
        }
        if (error.failure !== 'transient') throw error
        await closeFeeds(sides)
        const reopened = await reconnect(ctx, sides, error, health)
        if (reopened === undefined) {
          ctx.stoppedStreaming = true
          return
        }
        fresh = reopened
      }
    }
  } finally {
    await closeFeeds(sides)
  }
}

async function closeFeeds(sides: SideStream[]): Promise<void> {
  await Promise.all(sides.map((s) => s.feed?.close().catch(() => undefined)))
  for (const s of sides) {
    delete s.feed
    delete s.changes
    delete s.next
  }
}

/** Open every side that streams; returns whether one started afresh (then both sides are compared in full). */
async function openSides(ctx: RunContext, sides: SideStream[], full: boolean): Promise<boolean> {
  let fresh = false
  for (const side of sides) if (!side.polled) fresh = (await openSide(ctx, side, full)) || fresh
  return fresh
}

/** How the stream fares across reconnections. */
interface StreamHealth {
  /** Batches decided in this run. */
  batches: number
  /** Reconnections after transient errors in this run. */
  outages: number
  /** `batches` when the current outage began: batches decided since mean a new outage, with a fresh retry budget. */
  batchesAtOutage?: number
  attempts?: number
  /** Index in `ctx.notes` of the note about reconnections. */
  note?: number
}

const RECONNECT_FIRST_MS = 500
const RECONNECT_MAX_MS = 30_000

/**
 * After a transient error (a connection lost), open the feeds again from
 * their saved positions: up to the plan's `retries` attempts per outage,
 * with exponential backoff and jitter, as a one-way stream does. Returns
 * whether a side had to start afresh; undefined when the run was stopped.
 */
async function reconnect(ctx: RunContext, sides: SideStream[], first: SynclineError, health: StreamHealth): Promise<boolean | undefined> {
  if (health.batchesAtOutage !== health.batches) health.attempts = 0
  health.batchesAtOutage = health.batches
  let error: unknown = first
  for (;;) {
    const attempt = (health.attempts = (health.attempts ?? 0) + 1)
    if (attempt > ctx.prepared.plan.retries) throw error
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** (attempt - 1))
    try {
      await sleep(delay / 2 + Math.random() * (delay / 2), undefined, { signal: ctx.signal })
    } catch {
      return undefined
    }
    try {
      const fresh = await openSides(ctx, sides, false)
      health.outages++
      const text = `The stream reconnected ${health.outages} time(s) after transient errors (last: ${firstLine(first.message)}); it resumed from its saved positions each time.`
      if (health.note === undefined) health.note = ctx.notes.push(text) - 1
      else ctx.notes[health.note] = text
      return fresh
    } catch (retryError) {
      await closeFeeds(sides)
      if (!(retryError instanceof SynclineError && retryError.failure === 'transient')) throw retryError
      error = retryError
    }
  }
}

function sideStream(side: Side, connector: Connector, ref: { connection: string; entity: string }, entity: string, keys: string[], positionId: string): SideStream {
  return { side, connector, connection: ref.connection, planEntity: ref.entity, entity, keys, positionId, consumer: consumerName(positionId), lastSaved: Date.now() }
}

/**
 * Open a side's feed where the last run stopped, or afresh (first run,
 * `--full`, a position lost or saved for another entity); returns whether it
 * started afresh. A side whose connector has no change capture is left
 * without a feed and polled by its cursor, with a note saying so. A feed
 * that fails to open (CDC_NOT_READY…) fails the run: a silent switch to
 * polling would hide a setting to fix (docs/realtime.md).
 */
async function openSide(ctx: RunContext, side: SideStream, full: boolean): Promise<boolean> {
  const open = side.connector.capabilities.cdc ? side.connector.openChangeFeed : undefined
  if (!open) {
    side.polled = true
    ctx.notes.push(`The ${side.side} ${side.connector.name} (${side.connector.kind}) has no change capture: its changes are read by its cursor every ${POLL_MS / 1000} s, its deletes by a key pass every ${KEY_PASS_MS / 1000} s.`)
    return false
  }
  const options: ChangeFeedOptions = { consumer: side.consumer, keys: side.keys, maxBatchSize: ctx.prepared.plan.batchSize, signal: ctx.signal }
  const saved = full ? undefined : await ctx.state.getFeedPosition(side.positionId)
  const resumable = saved !== undefined && saved.connection === side.connection && saved.entity === side.planEntity && saved.consumer === side.consumer
  if (resumable) {
    try {
      side.feed = await open.call(side.connector, side.entity, { ...options, from: saved.position })
      return false
    } catch (error) {
      if (!(error instanceof SynclineError && error.code === 'POSITION_LOST')) throw error
      ctx.notes.push(`The saved ${side.side} stream position could no longer be served (${firstLine(error.message)}); both sides were compared in full and only the differences were written.`)
    }
  }
  // A consumer left from before is dropped, so its source keeps nothing for a position never read again.
  await side.connector.dropChangeFeed?.(side.consumer, { signal: ctx.signal })
  side.feed = await open.call(side.connector, side.entity, options)
  return true
}

/** Decide the keys of each batch as it arrives (and poll the sides without a feed) until the signal stops it. */
async function stream(ctx: RunContext, run: TwoWayRun, sides: SideStream[], health: StreamHealth): Promise<void> {
  const p = ctx.prepared
  const feeds = sides.filter((s) => s.feed)
  const polled = sides.filter((s) => !s.feed)
  for (const s of feeds) s.changes = s.feed!.changes()[Symbol.asyncIterator]()
  let lastReport = 0
  let lastKeyPass = Date.now()
  // One timer at a time, made again after it fires.
  let poll: Promise<'poll'> | undefined
  report(ctx, 'stream', ctx.counts.read, undefined, `Streaming changes of ${p.sourceEntity.name} and ${p.destinationEntity.name} both ways`, 0)
  try {
    for (;;) {
      if (ctx.signal?.aborted) break
      for (const s of feeds) s.next ??= s.changes!.next().then((result) => ({ stream: s, result }), (error: unknown) => ({ stream: s, error }))
      if (polled.length > 0) poll ??= sleep(POLL_MS, 'poll' as const, { signal: ctx.signal }).catch(() => 'poll' as const)
      const arrival = await Promise.race<Arrival | 'poll'>([...feeds.map((s) => s.next!), ...(poll ? [poll] : [])])
      if (arrival === 'poll') {
        poll = undefined
        if (ctx.signal?.aborted) break
        for (const s of polled) await readChanges(run, s.side)
        if (ctx.deletes !== 'ignore' && Date.now() - lastKeyPass >= KEY_PASS_MS) {
          await keyPass(run)
          lastKeyPass = Date.now()
        }
        continue
      }
      const s = arrival.stream
      s.next = undefined
      if ('error' in arrival) {
        // A feed may end its wait with an error when the signal fires: that is the stop asked for.
        if (ctx.signal?.aborted) break
        throw arrival.error
      }
      if (arrival.result.done) {
        if (ctx.signal?.aborted) break
        throw new SynclineError('CONNECTION_LOST', 'transient', `The change feed of ${s.connector.name}.${s.entity} ended without being stopped; run the sync again to resume from its saved position.`)
      }
      const batch = arrival.result.value
      if (batch.changes.length === 0) {
        s.unsaved = batch
        if (Date.now() - s.lastSaved >= IDLE_CHECKPOINT_MS) await checkpoint(ctx, s, batch.position, new Date().toISOString())
      } else {
        await applyBatch(run, s, batch)
        health.batches++
        await checkpoint(ctx, s, batch.position, batch.changes[batch.changes.length - 1]!.committedAt)
      }
      if (Date.now() - lastReport >= PROGRESS_INTERVAL_MS) {
        lastReport = Date.now()
        report(ctx, 'stream', ctx.counts.read, undefined, `${ctx.counts.read} changes read, ${ctx.counts.created + ctx.counts.updated + ctx.counts.deleted} written`, 0)
      }
    }
    // Stopping: the newest position seen, even an idle one, so a restart skips nothing twice.
    for (const s of feeds) if (s.unsaved) await checkpoint(ctx, s, s.unsaved.position, new Date().toISOString())
  } finally {
    // A feed still waiting for its next batch would hold `return()` until a change comes: closing it ends the wait.
    await Promise.all(
      feeds.map(async (s) => {
        if (s.next) await s.feed?.close().catch(() => undefined)
        await s.changes?.return?.().catch(() => undefined)
      }),
    )
  }
  ctx.stoppedStreaming = ctx.signal?.aborted === true
}

/**
 * The keys one side's batch changed, each decided against the base with
 * both sides looked up now. The last event of a key in the batch tells how
 * that side ended up; one equal to the base is an echo (or a change undone)
 * and skipped, and so is the delete of a key without a base (gone on both).
 */
async function applyBatch(run: TwoWayRun, s: SideStream, batch: ChangeBatch): Promise<void> {
  const { ctx, state } = run
  const syncId = ctx.prepared.plan.id
  ctx.counts.read += batch.changes.length
  const latest = new Map<string, { key: KeyValues; record?: Row }>()
  for (const change of batch.changes) {
    // A changed key: the old key is gone on this side.
    if (change.previousKey) latest.set(recordId(change.previousKey), { key: change.previousKey })
    latest.set(recordId(change.key), change.record ? { key: change.key, record: change.record } : { key: change.key })
  }
  const candidates: { view: KeyView; record?: Row }[] = []
  for (const { key, record } of latest.values()) {
    const view = newView(run, key)
    if (view) candidates.push(record ? { view, record } : { view })
  }
  const known = {
    bases: await state.getBase(syncId, candidates.map((c) => c.view.keyBytes)),
    open: await state.openConflicts(syncId, candidates.map((c) => c.view.recordId)),
  }
  const views = candidates
    .filter(({ view, record }) => {
      const base = known.bases.get(baseKeyId(view.keyBytes))
      if (known.open.has(view.recordId) || base?.pending) return true
      const echo = record ? base?.hash !== undefined && sameHash(eventHash(run, s.side, record), base.hash) : base === undefined
      if (echo) ctx.counts.unchanged++
      return !echo
    })
    .map((c) => c.view)
  if (views.length === 0) return
  const keys = views.map((v) => v.key)
  const [sources, destinations] = await Promise.all([lookupSource(run, keys), lookupDestination(run, keys)])
  await awaitVisible(run, s.side, views, latest, s.side === 'source' ? sources : destinations)
  for (const view of views) {
    const source = sources.get(view.recordId)
    const destination = destinations.get(view.recordId)
    if (source) view.source = source
    if (destination) view.destination = destination
  }
  await syncKeys(run, views, known)
}

/** Pauses between look-ups of a side that does not show its event's row yet (about 1.5 s in all). */
const VISIBILITY_WAITS_MS = [10, 40, 100, 250, 400, 700]

/**
 * A feed can deliver a change before its commit is visible to other
 * sessions: PostgreSQL decodes the commit record once it is flushed, before
 * the committing backend leaves the running transactions; MariaDB sends
 * binlog events before InnoDB's commit step. A look-up of the event's own
 * side in that window returns the row from before the change, and deciding
 * on it would drop the change for good (its event is acknowledged). So while
 * the looked-up row differs from the event's and is not newer by the cursor,
 * that side is looked up again after a pause, a few times; what is found
 * then is decided (the side may really have moved on: a later event follows).
 */
async function awaitVisible(run: TwoWayRun, side: Side, views: KeyView[], events: Map<string, { record?: Row }>, found: Map<string, Row>): Promise<void> {
  const behind = (v: KeyView) => mayPredate(run, side, events.get(v.recordId)?.record, found.get(v.recordId))
  let waiting = views.filter(behind)
  for (const pause of VISIBILITY_WAITS_MS) {
    if (waiting.length === 0) return
    await sleep(pause)
    const keys = waiting.map((v) => v.key)
    const again = side === 'source' ? await lookupSource(run, keys) : await lookupDestination(run, keys)
    for (const v of waiting) {
      const row = again.get(v.recordId)
      if (row) found.set(v.recordId, row)
      else found.delete(v.recordId)
    }
    waiting = waiting.filter(behind)
  }
}

/** Whether a looked-up row may be older than the event's row of that side (different content, cursor not later; a row or delete not there yet). */
function mayPredate(run: TwoWayRun, side: Side, event: Row | undefined, found: Row | undefined): boolean {
  if (!event || !found) return event !== found
  if (sameHash(eventHash(run, side, event), eventHash(run, side, found))) return false
  const { cursor, type } = side === 'source' ? { cursor: run.mapping.sourceCursor, type: run.mapping.sourceCursorType } : { cursor: run.mapping.destinationCursor, type: run.mapping.destinationCursorType }
  return compareValues(type, found[cursor] ?? null, event[cursor] ?? null) <= 0
}

/** The compared-fields hash of a feed's row (a source row mapped forward first); undefined when it cannot be mapped (decided, and rejected, in full). */
function eventHash(run: TwoWayRun, side: Side, record: Row): Buffer | undefined {
  if (side === 'destination') return rowHash(record, run.mapping.compared)
  try {
    return rowHash(run.mapping.forward.map(record), run.mapping.compared)
  } catch {
    return undefined
  }
}

/** Save a side's position (its batch decided, both sides and the base written), then acknowledge it to its source. */
async function checkpoint(ctx: RunContext, s: SideStream, position: string, committedAt: string | undefined): Promise<void> {
  const saved: FeedPosition = { syncId: s.positionId, consumer: s.consumer, connection: s.connection, entity: s.planEntity, position, updatedAt: new Date().toISOString() }
  if (committedAt !== undefined) saved.committedAt = committedAt
  await ctx.state.setFeedPosition(saved)
  await s.feed!.ack(position)
  s.lastSaved = Date.now()
  s.unsaved = undefined
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).slice(0, 300)
}
