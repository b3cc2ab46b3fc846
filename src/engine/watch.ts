/**
 * `manager.watch(connection, entity, callback)`: a change feed delivered to
 * a callback as DESIGN §1.3 events, in commit order, one at a time.
 *
 * The callback may be async: the next event waits for it (back-pressure,
 * memory bounded by one feed batch). A position is acknowledged to the
 * source only after the callbacks of every event up to it returned, so a
 * watch that stops or crashes leaves the rest in its consumer, and `since`
 * the last position handled delivers every later change exactly once.
 */
import type { ChangeFeed, Position } from '../connectors/change-feed.js'
import type { Connector } from '../connectors/connector.js'
import { CancelledError, SynclineError } from '../errors.js'
import type { StateStore, WatchConsumer } from '../state/state-store.js'
import { resolveFilters } from '../mapping/filters.js'
import type { FilterPlan } from '../plan/schema.js'
import type { CanonicalType, Row } from '../values/canonical.js'
import { requireWatchable } from './capabilities.js'
import { toChangeEvent, type ChangeEvent } from './change-event.js'
import { filterChange } from './watch-filter.js'
import { decodeWatchPosition, encodeWatchPosition, newWatchConsumer } from './watch-position.js'
import { DeliveryTracker, filtersFingerprint, resumePosition } from './watch-resume.js'
import { DEFAULT_WATCH_RETENTION_SECONDS, dropReleasedWatches } from './watch-retention.js'

/** Receives each event; a returned promise is awaited before the next event. Throwing ends the watch. */
export type WatchCallback = (event: ChangeEvent) => void | Promise<void>

/** Options of `manager.watch`. */
export interface WatchOptions {
  /**
   * Resume after this position (an event's `position`, or the handle's
   * `position` when the watch ended): every change committed after it,
   * including those committed while no watch ran, none twice. Absent: a new
   * consumer that sees the changes committed after `ready`.
   */
  since?: string
  /** Aborting it stops the watch, as calling the handle does. */
  signal?: AbortSignal
  /** Called once when the watch fails (also `done` rejects). */
  onError?: (error: Error) => void
  /** Key fields of the entity (default its primary key). */
  keys?: string[]
  /** At most this many changes are read from the source at once (default 1000). */
  batchSize?: number
  /**
   * Read the entity's current rows first, consistent with the start (the
   * change feed's own snapshot, so no change falls between the rows and the
   * events and none is in both): each batch goes here, in key order, before
   * `ready` resolves and before any event. Not with `since`.
   */
  onSnapshot?: (rows: Row[], keys: readonly string[]) => void | Promise<void>
  /**
   * Only rows and events of records that pass these filters (the plan's
   * filter syntax; see {@link filterChange} for how updates that leave the
   * filter arrive). A bad filter fails the watch with `PLAN_INVALID`.
   */
  filters?: FilterPlan[]
  /**
   * Acknowledge nothing to the source (default false): for a consumer that
   * cannot confirm what it handled (a WebSocket client may lose frames in
   * flight when it disconnects), so `since` any position it saw still
   * resumes. The source then keeps the consumer's log from its start until
   * the consumer is dropped after its retention.
   */
  holdAcks?: boolean
  /**
   * Called with each position the watch is about to acknowledge, before it
   * does (also position-only moves, when the source went on without changes
   * to this entity). A consumer that stores its own resume position records
   * it here: the source may release everything up to an acknowledged
   * position, so a stored position behind it could no longer resume.
   */
  beforeAck?: (position: string) => void | Promise<void>
}

/**
 * What `manager.watch` returns: call it to stop (`await stop()`), the
 * promise resolving once the watch ended and its position was acknowledged.
 * @example
 * const stop = manager.watch('shop', 'Customer', async (event) => { await handle(event) })
 * await stop.ready // every change committed from here on is delivered
 * // …
 * await stop()
 * console.log('resume with', stop.position)
 */
export interface WatchHandle {
  /** Stop after the event in progress; resolves when the watch ended, rejects if it had failed. */
  (): Promise<void>
  /** Resolves with the start position once capture is active: every change committed after it is delivered. Rejects when the watch could not start. */
  readonly ready: Promise<string>
  /** Resolves when the watch ended (stopped, or its signal aborted); rejects with the error it failed with. */
  readonly done: Promise<void>
  /** The same promise as {@link done}. */
  readonly closed: Promise<void>
  /** The consumer name the watch reads (`watch_<8 hex>`, or the one inside `since`); undefined for an invalid `since`. */
  readonly consumer: string | undefined
  /**
   * Where to resume: the position of the last event whose callback returned
   * (or beyond it, when the source moved on without changes to this entity),
   * the start position before any event. Undefined until `ready`.
   */
  readonly position: string | undefined
}

/** What a watch needs from the manager. */
export interface WatchContext {
  connection: string
  entity: string
  connector(): Promise<Connector>
  state(): Promise<StateStore>
  /** How long an ended watch's consumer stays resumable (the `SYNCLINE_WATCH_RETENTION` setting). */
  retentionMs(): number
}

/** Start a watch; errors arrive through `ready`, `done` and `onError`, never as a throw. */
export function startWatch(context: WatchContext, callback: WatchCallback, opts: WatchOptions = {}): WatchHandle {
  const controller = new AbortController()
  let consumer: string | undefined
  let from: Position | undefined
  let startError: unknown
  try {
    if (opts.since === undefined) consumer = newWatchConsumer()
    else ({ consumer, position: from } = decodeWatchPosition(opts.since))
  } catch (error) {
    startError = error
  }

  let position: string | undefined
  let resolveReady!: (position: string) => void
  let rejectReady!: (error: unknown) => void
  const ready = new Promise<string>((resolve, reject) => {
    resolveReady = resolve
    rejectReady = reject
  })
  let started = false

  const watching = async (): Promise<void> => {
    if (startError !== undefined) throw startError
    const name = consumer!
    const connector = await context.connector()
    const openChangeFeed = requireWatchable(connector)
    const info = await connector.describe(context.entity)
    const keys = opts.keys ?? info.primaryKey
    if (keys.length === 0) {
      throw new SynclineError(
        'KEY_MISSING',
        'config',
        `Entity '${context.entity}' of connection '${context.connection}' has no primary key, so its changes cannot name their record. Pass keys: ['field', …] to watch() naming fields that identify a row.`,
      )
    }
    const types = new Map<string, CanonicalType>(info.fields.map((f) => [f.name, f.type]))
    const filters = opts.filters === undefined || opts.filters.length === 0 ? [] : resolveFilters(opts.filters, info)
    if (opts.onSnapshot !== undefined && from !== undefined) {
      throw new SynclineError('POSITION_INVALID', 'config', 'A snapshot is read only by a new watch: ask for the snapshot or resume since a position, not both.')
    }
    const state = await context.state()
    const retentionMs = context.retentionMs()
    await dropReleasedWatches(context.connection, connector, state, retentionMs)
    const fingerprint = filtersFingerprint(opts.filters)
    const recorded = from === undefined ? undefined : (await checkResumable(context, connector, state, name, retentionMs))?.resume
    // Since the last delivered event, the source may already be past it with nothing delivered between (watch-resume.ts).
    const open = from === undefined ? undefined : resumePosition(recorded, from, fingerprint)
    throwIfStopped(controller.signal)

    await state.claimWatchConsumer({ connection: context.connection, consumer: name, entity: context.entity })
    let feed: ChangeFeed | undefined
    let handled: Position | undefined
    let acknowledged: Position | undefined
    let tracker: DeliveryTracker | undefined
    // Before each acknowledgement: what a resume since the last delivered event needs, then the consumer's own record.
    const beforeAck = async (at: Position): Promise<void> => {
      const resume = tracker?.before(at)
      if (resume !== undefined) await state.setWatchResume(context.connection, name, resume)
      await opts.beforeAck?.(encodeWatchPosition(name, at))
    }
    // The feed's own signal aborts only a stop while it opens; a stop later acknowledges first and then
    // closes it (a PostgreSQL slot cannot be moved for a moment after its reader closed).
    const opening = new AbortController()
    const abortOpening = () => opening.abort()
    controller.signal.addEventListener('abort', abortOpening, { once: true })
    try {
      try {
        feed = await openChangeFeed(context.entity, {
          consumer: name,
          ...(open === undefined ? {} : { from: open }),
          keys,
          maxBatchSize: opts.batchSize ?? 1000,
          signal: opening.signal,
        })
      } catch (error) {
        throw from !== undefined && error instanceof SynclineError && error.code === 'POSITION_LOST' ? positionLost(context, name, retentionMs, error, error.message.replace(/\.\s*$/, '')) : error
      } finally {
        controller.signal.removeEventListener('abort', abortOpening)
      }
      if (controller.signal.aborted) return
      if (opts.onSnapshot !== undefined) {
        const fields = info.fields.map((f) => f.name)
        for await (const rows of feed.snapshot({ fields, keys, filters, batchSize: opts.batchSize ?? 1000, signal: controller.signal })) {
          if (controller.signal.aborted) return
          await opts.onSnapshot(rows, keys)
        }
      }
      handled = acknowledged = feed.start
      // Opened beyond `since`: the user still knows only `since`, so it stays their start (and what counts as
      // delivered), and changes the filters left out after it still lie between it and what is acknowledged next.
      const beyond = open !== from
      const start = beyond ? from! : feed.start
      const delivery = (tracker = new DeliveryTracker(start, fingerprint, beyond && recorded?.filters !== undefined))
      position = encodeWatchPosition(name, start)
      started = true
      resolveReady(position)
      const eventContext = { connection: context.connection, entity: context.entity, keys, types }
      batches: for await (const batch of untilAborted(feed.changes(), controller.signal)) {
        for (const change of batch.changes) {
          if (controller.signal.aborted) break batches
          const eventPosition = encodeWatchPosition(name, change.position)
          const passed = filters.length === 0 ? change : filterChange(change, filters, types)
          if (passed === undefined) delivery.skipped()
          else {
            await callback(toChangeEvent(passed, eventPosition, eventContext))
            delivery.delivered(change.position)
          }
          handled = change.position
          position = eventPosition
        }
        if (controller.signal.aborted) break
        handled = batch.position
        position = encodeWatchPosition(name, batch.position)
        if (!opts.holdAcks) {
          await beforeAck(batch.position)
          await feed.ack(batch.position)
          acknowledged = batch.position
        }
      }
    } catch (error) {
      // Once stopping, whatever the feed says while it winds down (a cancellation, its connection closed under it) is its end.
      if (!controller.signal.aborted) throw error
    } finally {
      // Each step runs even when one before it failed: the consumer is released whatever happened to the feed.
      await allSteps([
        async () => {
          if (feed === undefined || handled === undefined || handled === acknowledged || opts.holdAcks) return
          await beforeAck(handled)
          await feed.ack(handled)
        },
        async () => feed?.close(),
        async () => state.releaseWatchConsumer(context.connection, name, new Date().toISOString()),
      ])
    }
  }

  const done = watching().then(
    () => {
      if (!started) rejectReady(new CancelledError('The watch was stopped before it started.'))
    },
    (error: unknown) => {
      // Stopped while starting: an end, not a failure; only `ready` says it never started.
      if (controller.signal.aborted && isCancellation(error)) {
        rejectReady(error)
        return
      }
      const failure = error instanceof Error ? error : new Error(String(error))
      opts.onError?.(failure)
      rejectReady(failure)
      throw failure
    },
  )
  // Awaiting one of these promises is enough; the others must not crash the process as unhandled.
  ready.catch(() => undefined)
  done.catch(() => undefined)

  const stop = async (): Promise<void> => {
    controller.abort()
    await done
  }
  if (opts.signal?.aborted) controller.abort()
  opts.signal?.addEventListener('abort', () => controller.abort(), { once: true })

  return Object.defineProperties(stop, {
    ready: { value: ready, enumerable: true },
    done: { value: done, enumerable: true },
    closed: { value: done, enumerable: true },
    consumer: { get: () => consumer, enumerable: true },
    position: { get: () => position, enumerable: true },
  }) as WatchHandle
}

/**
 * Before resuming: the position must be a consumer this datasource still
 * keeps, for this entity. A consumer dropped after its retention is
 * `POSITION_LOST` here, whatever the connector would do with its name.
 */
async function checkResumable(context: WatchContext, connector: Connector, state: StateStore, consumer: string, retentionMs: number): Promise<WatchConsumer | undefined> {
  const known = await state.getWatchConsumer(context.connection, consumer)
  const feeds = await connector.listChangeFeeds?.()
  const feed = feeds?.find((f) => f.consumer === consumer)
  if (feeds !== undefined && feed === undefined) throw positionLost(context, consumer, retentionMs)
  // Only the state store spells the entity as the user did (a connector may say `public.items` for `items`).
  const entity = known?.entity
  if (entity !== undefined && entity !== context.entity) {
    throw new SynclineError(
      'POSITION_INVALID',
      'config',
      `That position belongs to a watch of '${entity}' on connection '${context.connection}', not of '${context.entity}'. Resume it with that entity, or watch '${context.entity}' without since to start from now.`,
    )
  }
  if (feed?.lost !== undefined) throw positionLost(context, consumer, retentionMs, undefined, feed.lost)
  return known
}

function positionLost(context: WatchContext, consumer: string, retentionMs: number, cause?: unknown, reason?: string): SynclineError {
  const hours = retentionMs / 3_600_000
  const kept = retentionMs === DEFAULT_WATCH_RETENTION_SECONDS * 1000 ? 'an hour' : hours >= 1 ? `${hours} h` : `${retentionMs / 1000} s`
  return new SynclineError(
    'POSITION_LOST',
    'config',
    `Cannot resume watch consumer ${consumer} on connection '${context.connection}': ${reason ?? `the datasource no longer keeps it (a stopped watch's changes are kept for ${kept}, SYNCLINE_WATCH_RETENTION)`}. ` +
      `Start afresh without --since / since: the new watch sees the changes committed from then on (read the current rows with syncline run or a query first if you need them).`,
    { cause, details: { consumer, connection: context.connection } },
  )
}

/**
 * The batches of a feed until the signal aborts, then no more, even when
 * the feed's own iterator has not ended yet: a stop must not wait on a
 * connector that is slow to notice it (its `close` runs in the watch's
 * cleanup either way). A read still pending then is left to settle alone.
 */
async function* untilAborted<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]()
  let onAbort: (() => void) | undefined
  const aborted = new Promise<'aborted'>((resolve) => {
    onAbort = () => resolve('aborted')
    if (signal.aborted) resolve('aborted')
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  let finished = false
  try {
    while (!signal.aborted) {
      const next = iterator.next()
      next.catch(() => undefined)
      const result = await Promise.race([next, aborted])
      if (result === 'aborted') return
      if (result.done) {
        finished = true
        return
      }
      yield result.value
    }
  } finally {
    signal.removeEventListener('abort', onAbort!)
    // Ending early (a stop, a failing callback) tells the source; after an abort it may still be
    // busy with the read left pending, so that is not awaited.
    if (!finished) {
      const ending = iterator.return?.()
      if (signal.aborted) void ending?.catch(() => undefined)
      else await ending
    }
  }
}

/** Run every step; then throw the first error, if any. */
async function allSteps(steps: (() => Promise<unknown>)[]): Promise<void> {
  let failed = false
  let first: unknown
  for (const step of steps) {
    try {
      await step()
    } catch (error) {
      if (!failed) first = error
      failed = true
    }
  }
  if (failed) throw first
}

function throwIfStopped(signal: AbortSignal): void {
  if (signal.aborted) throw new CancelledError('The watch was stopped before it started.')
}

function isCancellation(error: unknown): boolean {
  return (error instanceof SynclineError && error.code === 'CANCELLED') || (error instanceof Error && error.name === 'AbortError')
}
