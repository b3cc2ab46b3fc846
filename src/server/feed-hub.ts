/**
 * One change capture per (connection, entity) for every `/feed` client
 * (docs/daemon.md "Change feed"): a single watch, opened for the first
 * client (or at serve start for the plan's `feeds:`), records each event in
 * the replay log and wakes the clients, who each read the log at their own
 * pace from their own sequence number. The watch acknowledges a change to
 * the source once it is in the log, so the source keeps nothing for the
 * feed beyond what the log has not recorded yet.
 *
 * The capture keeps running while serve runs; {@link FeedHub.close} stops
 * every capture (positions saved) when serve stops. A restarted serve
 * resumes each capture from its saved position, so positions handed out
 * before the restart still resume.
 */
import { isAbsolute, join, resolve } from 'node:path'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import type { Logger } from 'pino'
import type { Filter } from '../connectors/connector.js'
import type { ChangeEvent } from '../engine/change-event.js'
import type { WatchHandle } from '../engine/watch.js'
import { SynclineError } from '../errors.js'
import { resolveFilters } from '../mapping/filters.js'
import { durationMs, type FilterPlan } from '../plan/schema.js'
import type { SyncManager } from '../sync-manager.js'
import type { CanonicalType, EntityInfo, Row } from '../values/canonical.js'
import { recordId } from '../values/record-id.js'
import type { DaemonMetrics } from './metrics.js'
import { ReplayLog, type CaptureRecord, type LoggedEvent, type RowChange } from './replay-log.js'

/** Recent events kept in memory, so clients that keep up never read the log file. */
const RING_SIZE = 20_000
/** How often the replay window is enforced. */
const PRUNE_EVERY_MS = 60_000
/** A plan feed whose capture failed is started again after this long. */
const RESTART_DELAY_MS = 5_000

/** The replay log file for a plan: beside a SQLite state store, else `.syncline/` beside the plan. */
export function replayLogPath(state: string, baseDir: string): string | undefined {
  const location = state.trim().replace(/^sqlite:/i, '')
  if (location === ':memory:') return undefined
  if (/^postgres(ql)?:\/\//i.test(location)) return resolve(baseDir, '.syncline', 'feed-replay.db')
  const file = isAbsolute(location) ? location : resolve(baseDir, location)
  return join(resolve(file, '..'), 'feed-replay.db')
}

/** The shared captures of one serve. */
export class FeedHub {
  private readonly captures = new Map<string, Capture>()
  private readonly log: ReplayLog
  private readonly windowMs: number
  private readonly tempDir: string | undefined
  private readonly pruneTimer: NodeJS.Timeout
  private readonly restarts = new Set<NodeJS.Timeout>()
  private closing = false

  constructor(
    private readonly manager: SyncManager,
    private readonly logger: Logger,
    private readonly metrics: DaemonMetrics,
  ) {
    const path = replayLogPath(manager.plan.state, manager.baseDir)
    // State in memory: the log lives only as long as this serve, in a temporary file (snapshots need a second connection).
    this.tempDir = path === undefined ? mkdtempSync(join(tmpdir(), 'syncline-feed-')) : undefined
    this.log = ReplayLog.open(path ?? join(this.tempDir!, 'feed-replay.db'))
    this.windowMs = durationMs(manager.plan.feedReplay)
    this.pruneTimer = setInterval(() => this.prune(), Math.min(PRUNE_EVERY_MS, Math.max(1000, this.windowMs / 2)))
    this.pruneTimer.unref()
  }

  /** The replay window in milliseconds (plan `feedReplay`). */
  get replayWindowMs(): number {
    return this.windowMs
  }

  /** Start the captures the plan lists under `feeds:`; a failed one is retried. */
  startPlanFeeds(): void {
    for (const feed of this.manager.plan.feeds) this.keepCapturing(feed.connection, feed.entity)
  }

  /** The running capture of an entity, started when none runs. Await its `ready`. */
  capture(connection: string, entity: string): Capture {
    if (this.closing) throw new SynclineError('CANCELLED', 'transient', 'The daemon is stopping; connect again once it is back.')
    const id = `${connection}\0${entity}`
    let capture = this.captures.get(id)
    if (capture === undefined || capture.failed !== undefined) {
      capture = new Capture(connection, entity, this.manager, this.log, this.logger, this.metrics)
      this.captures.set(id, capture)
      const started = capture
      started.ended.then(
        () => undefined,
        () => {
          if (this.captures.get(id) === started) this.captures.delete(id)
        },
      )
    }
    return capture
  }

  /** Captures running now (for tests and metrics). */
  get size(): number {
    return this.captures.size
  }

  /** Stop every capture (positions saved), then close the log. */
  async close(): Promise<void> {
    this.closing = true
    clearInterval(this.pruneTimer)
    for (const timer of this.restarts) clearTimeout(timer)
    await Promise.all([...this.captures.values()].map((capture) => capture.stop()))
    this.captures.clear()
    this.log.close()
    if (this.tempDir !== undefined) rmSync(this.tempDir, { recursive: true, force: true })
  }

  private keepCapturing(connection: string, entity: string): void {
    if (this.closing) return
    const capture = this.capture(connection, entity)
    capture.ended.catch((error: unknown) => {
      if (this.closing) return
      this.logger.warn({ connection, entity, error: error instanceof Error ? error.message : String(error), retryInMs: RESTART_DELAY_MS }, 'feed capture failed; starting it again')
      const timer = setTimeout(() => {
        this.restarts.delete(timer)
        this.keepCapturing(connection, entity)
      }, RESTART_DELAY_MS)
      this.restarts.add(timer)
    })
  }

  private prune(): void {
    const before = Date.now() - this.windowMs
    for (const capture of this.captures.values()) {
      try {
        capture.prune(before)
      } catch (error) {
        this.logger.warn({ connection: capture.connection, entity: capture.entity, error: (error as Error).message }, 'pruning the feed replay log failed; trying again later')
      }
    }
  }
}

/** One entity's shared capture. */
export class Capture {
  /** Resolves once the log is complete up to now (snapshot taken or resumed); rejects when the capture could not start. */
  readonly ready: Promise<void>
  /** Resolves when the capture was stopped; rejects with the error it failed with. */
  readonly ended: Promise<void>
  failed: Error | undefined
  /** Set as the capture starts: before `ready`, and before any prune can reach it. */
  private record: CaptureRecord = { id: -1, logId: '', watchPosition: undefined, seq: 0, prunedThrough: 0 }
  private watch: WatchHandle | undefined
  private keys: readonly string[] = []
  private types = new Map<string, CanonicalType>()
  private info: EntityInfo | undefined
  private readonly ring: LoggedEvent[] = []
  private waiters = new Set<() => void>()
  private waking = false
  private stopped = false
  private readonly labels: { connection: string; entity: string }

  constructor(
    readonly connection: string,
    readonly entity: string,
    private readonly manager: SyncManager,
    private readonly log: ReplayLog,
    private readonly logger: Logger,
    private readonly metrics: DaemonMetrics,
  ) {
    this.labels = { connection, entity }
    let endWith!: { resolve: () => void; reject: (error: unknown) => void }
    this.ended = new Promise<void>((resolve, reject) => (endWith = { resolve, reject }))
    this.ended.catch(() => undefined)
    this.ready = this.start().then(
      (watch) => {
        watch.done.then(
          () => endWith.resolve(),
          (error: unknown) => this.fail(error, endWith.reject),
        )
      },
      (error: unknown) => {
        this.fail(error, endWith.reject)
        throw this.failed
      },
    )
    this.ready.catch(() => undefined)
  }

  /** Sequence number of the last event recorded. */
  get seq(): number {
    return this.record.seq
  }

  /** The position a client resumes from after event `seq`. */
  positionOf(seq: number): string {
    return `${this.record.logId}.${seq}`
  }

  /**
   * The sequence number a `since` position names, or undefined when this log
   * cannot resume it: another log's (an earlier capture), older than the
   * replay window (pruned), ahead of the log, or not a feed position at all.
   */
  seqOf(since: string): number | undefined {
    const resume = this.resumeFrom(since)
    return typeof resume === 'number' ? resume : undefined
  }

  /** The sequence number `since` names, or why this log cannot resume it (for the log line of a reset). */
  resumeFrom(since: string): number | string {
    const match = /^(feed_[0-9a-f]{8})\.(\d{1,15})$/.exec(since)
    if (match === null) return 'not a feed position'
    if (match[1] !== this.record.logId) return `a position of another replay log than ${this.record.logId} (an earlier capture)`
    const seq = Number(match[2])
    if (seq < this.record.prunedThrough) return `older than the replay window (events up to ${this.record.prunedThrough} were pruned)`
    if (seq > this.record.seq) return `ahead of the log (its last event is ${this.record.seq})`
    return seq
  }

  /** A client's filters checked against the entity; throws `PLAN_INVALID` naming the filter. */
  resolveFilters(filters: FilterPlan[]): Filter[] {
    return resolveFilters(filters, this.info!)
  }

  get fieldTypes(): ReadonlyMap<string, CanonicalType> {
    return this.types
  }

  /** Up to `limit` events after `seq`, from memory when recent, else from the log file. */
  eventsAfter(seq: number, limit: number): LoggedEvent[] {
    if (seq >= this.record.seq) return []
    const first = this.ring[0]
    if (first !== undefined && first.seq <= seq + 1) {
      const start = seq + 1 - first.seq
      return this.ring.slice(start, start + limit)
    }
    const events = this.log.eventsAfter(this.record.id, seq, limit)
    for (const e of events) e.event.position = this.positionOf(e.seq)
    return events
  }

  /** Resolves when an event is recorded or the capture ends. */
  changed(): Promise<void> {
    if (this.stopped || this.failed !== undefined) return Promise.resolve()
    return new Promise((resolve) => this.waiters.add(resolve))
  }

  /** Whether the capture still runs (false once stopped or failed). */
  get running(): boolean {
    return !this.stopped && this.failed === undefined
  }

  /** The rows as of one sequence number, read page by page (see {@link ReplayLog.openSnapshot}). */
  openSnapshot(): ReturnType<ReplayLog['openSnapshot']> & { keys: readonly string[] } {
    return { ...this.log.openSnapshot(this.record.id), keys: this.keys }
  }

  /** Drop events recorded before `before` (ms). */
  prune(before: number): void {
    if (this.failed !== undefined || this.record.id < 0) return
    this.record.prunedThrough = this.log.prune(this.record.id, before)
    while (this.ring.length > 0 && this.ring[0]!.seq <= this.record.prunedThrough) this.ring.shift()
    this.metrics.feedReplayEvents.set(this.labels, this.log.eventCount(this.record.id))
  }

  /** Stop the watch (its position acknowledged and saved). */
  async stop(): Promise<void> {
    this.stopped = true
    this.wake()
    await this.ready.catch(() => undefined)
    await this.watch?.().catch(() => undefined)
  }

  private async start(): Promise<WatchHandle> {
    const connector = await this.manager.connector(this.connection)
    const info = await connector.describe(this.entity)
    this.info = info
    this.types = new Map(info.fields.map((f) => [f.name, f.type]))
    this.keys = info.primaryKey
    const saved = this.log.capture(this.connection, this.entity)
    if (saved?.watchPosition !== undefined) {
      this.record = saved
      this.prune(Date.now() - durationMs(this.manager.plan.feedReplay))
      try {
        return await this.open(saved.watchPosition)
      } catch (error) {
        if (!(error instanceof SynclineError) || !['POSITION_LOST', 'POSITION_INVALID'].includes(error.code) || this.stopped) throw error
        this.logger.warn({ connection: this.connection, entity: this.entity, error: error.message }, 'the feed capture cannot resume; starting a new one with a fresh snapshot (clients get a reset)')
        await this.dropConsumer(saved.watchPosition)
      }
    }
    this.record = this.log.startCapture(this.connection, this.entity)
    return this.open(undefined)
  }

  private async open(since: string | undefined): Promise<WatchHandle> {
    const watch = this.manager.watch(this.connection, this.entity, (event) => this.recordEvent(event), {
      ...(since === undefined
        ? {
            onSnapshot: (rows: Row[], keys: readonly string[]) => {
              this.keys = keys
              this.log.addSnapshotRows(
                this.record.id,
                rows.map((record) => ({ recordId: recordId(keys.map((field) => record[field] ?? null)), record })),
              )
            },
          }
        : { since }),
      // The source may release the WAL up to what is acknowledged (position-only moves too), so the
      // log must hold that position first: a restart resumes from it, never from behind it.
      beforeAck: (position: string) => this.advanceTo(position),
    })
    this.watch = watch
    const position = await watch.ready
    if (since === undefined) this.log.savePosition(this.record.id, position)
    this.record.watchPosition = position
    this.logger.info({ connection: this.connection, entity: this.entity, consumer: watch.consumer, resumed: since !== undefined, seq: this.record.seq }, 'feed capture started')
    if (this.stopped) await watch()
    return watch
  }

  /** An old capture's consumer that cannot resume keeps WAL for nothing: drop it (a failure only costs retention). */
  private async dropConsumer(position: string): Promise<void> {
    await this.manager.dropWatch(this.connection, position).catch((error: unknown) => {
      this.logger.warn({ connection: this.connection, entity: this.entity, error: error instanceof Error ? error.message : String(error) }, 'could not drop the old feed capture; it is dropped after its retention')
    })
  }

  private advanceTo(position: string): void {
    if (position === this.record.watchPosition || this.record.id < 0) return
    this.log.savePosition(this.record.id, position)
    this.record.watchPosition = position
  }

  /** Called by the shared watch for each event: into the log (durably), then every client is woken. */
  private recordEvent(event: ChangeEvent): void {
    const seq = this.record.seq + 1
    const now = Date.now()
    this.log.append(this.record.id, seq, event, this.rowChange(event), now)
    this.record.seq = seq
    this.record.watchPosition = event.position
    this.ring.push({ seq, event: { ...event, position: this.positionOf(seq) } })
    if (this.ring.length > RING_SIZE) this.ring.splice(0, this.ring.length - RING_SIZE)
    if (event.committedAt !== undefined) this.metrics.feedCaptureLag.set(this.labels, Math.max(0, (now - Date.parse(event.committedAt)) / 1000))
    this.wake()
  }

  private rowChange(event: ChangeEvent): RowChange {
    const change: RowChange = {}
    const remove: string[] = []
    if (event.previousKey !== undefined) remove.push(recordId(this.keys.map((field) => event.previousKey![field] ?? null)))
    if (event.type === 'delete') remove.push(event.recordId)
    else if (event.record !== undefined) change.upsert = { recordId: event.recordId, record: event.record }
    if (remove.length > 0) change.remove = remove
    return change
  }

  private fail(error: unknown, reject: (error: unknown) => void): void {
    this.failed = error instanceof Error ? error : new Error(String(error))
    this.wake()
    if (!this.stopped) this.logger.warn({ connection: this.connection, entity: this.entity, error: this.failed.message }, 'feed capture failed')
    reject(this.failed)
  }

  /** Wake the clients once per turn of the event loop, not per event: a source batch recorded in one go is read in one go. */
  private wake(): void {
    if (this.waking) return
    this.waking = true
    setImmediate(() => {
      this.waking = false
      const waiters = this.waiters
      this.waiters = new Set()
      for (const wake of waiters) wake()
    })
  }
}
