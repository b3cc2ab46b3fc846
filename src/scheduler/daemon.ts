/**
 * The daemon's engine room, without HTTP: runs every sync that has a
 * `schedule:` on its cron (croner, in the sync's or the plan's time zone),
 * keeps every `mode: realtime` sync streaming (restarted with backoff after
 * a failure), and stops gracefully: batches in flight finish, positions and
 * watermarks are saved, then the manager closes.
 *
 * One run of a sync at a time: a tick that comes while the previous run
 * still goes on is skipped and logged (`syncline_schedule_skipped_total`).
 *
 * @example
 * const daemon = new Daemon({ manager, logger, metrics })
 * daemon.start()
 * process.on('SIGTERM', () => void daemon.stop())
 */
import type { Cron } from 'croner'
import type { Logger } from 'pino'
import { createSchedule } from '../plan/cron.js'
import { durationMs } from '../plan/schema.js'
import type { DaemonMetrics } from '../server/metrics.js'
import type { SyncManager } from '../sync-manager.js'
import { retryDelayMs } from './retry.js'
import { SyncSlot, type ActiveRun, type StartOptions } from './sync-slot.js'

/** A realtime sync that streamed at least this long before failing starts its backoff over. */
const HEALTHY_STREAM_MS = 60_000

/** When the daemon prunes run history (plus once at start): at minute 17 of every hour, off the busy full hour. */
export const PRUNE_SCHEDULE = '17 * * * *'

/** What the daemon runs with. */
export interface DaemonOptions {
  manager: SyncManager
  logger: Logger
  metrics: DaemonMetrics
  /** Cron of the history pruning (plan `history:`); default {@link PRUNE_SCHEDULE}. */
  pruneSchedule?: string
}

/** Why {@link Daemon.trigger} did not start a run. */
export type TriggerRefusal = 'running' | 'stopping'

/** Runs, schedules and streams every sync of one plan. */
export class Daemon {
  readonly manager: SyncManager
  readonly logger: Logger
  readonly metrics: DaemonMetrics
  /** Every sync of the plan, in plan order. */
  readonly slots = new Map<string, SyncSlot>()
  private readonly jobs = new Map<string, Cron>()
  /** Realtime syncs kept streaming (absent once cancelled through the API). */
  private readonly streaming = new Set<string>()
  private readonly wakeups = new Map<string, () => void>()
  private stopping = false
  private readonly keepers: Promise<void>[] = []
  private readonly pruneSchedule: string
  private pruneJob: Cron | undefined
  /** The prune in progress, so stop() waits for it before the caller closes the state store. */
  private pruning: Promise<void> | undefined

  constructor(opts: DaemonOptions) {
    this.manager = opts.manager
    this.logger = opts.logger
    this.metrics = opts.metrics
    this.pruneSchedule = opts.pruneSchedule ?? PRUNE_SCHEDULE
    for (const plan of this.manager.plan.syncs) this.slots.set(plan.id, new SyncSlot(plan, opts))
  }

  /** Whether {@link stop} was called. */
  get isStopping(): boolean {
    return this.stopping
  }

  /** Start every schedule and realtime stream. Returns at once. */
  start(): void {
    for (const slot of this.slots.values()) {
      const { plan } = slot
      if (plan.mode === 'realtime') {
        this.keepStreaming(slot)
        continue
      }
      if (plan.schedule === undefined) continue
      const timezone = plan.timezone ?? this.manager.plan.timezone
      const job = createSchedule(plan.schedule, timezone, () => this.tick(slot, job))
      this.jobs.set(plan.id, job)
      this.logger.info({ syncId: plan.id, schedule: plan.schedule, timezone, nextRunAt: job.nextRun()?.toISOString() }, 'scheduled')
    }
    this.pruneJob = createSchedule(this.pruneSchedule, undefined, () => void this.pruneHistory())
    void this.pruneHistory()
    this.logger.info({ syncs: this.slots.size, scheduled: this.jobs.size, realtime: this.streaming.size }, 'daemon started')
  }

  /**
   * Drop run history beyond the plan's `history:` retention; on the prune
   * schedule and once at start. A tick while the previous prune still runs
   * is skipped; a failure is logged and tried again on the next tick.
   */
  async pruneHistory(): Promise<void> {
    if (this.stopping || this.pruning) return this.pruning
    const started = Date.now()
    this.pruning = (async () => {
      try {
        const { runs, recordErrors, olderThan, keepRuns } = await this.manager.pruneHistory()
        this.logger.info({ runs, recordErrors, olderThan, keepRuns, durationMs: Date.now() - started }, 'pruned run history')
      } catch (error) {
        this.logger.warn({ error: error instanceof Error ? error.message : String(error), nextAt: this.pruneJob?.nextRun()?.toISOString() }, 'pruning run history failed; trying again at the next prune tick')
      } finally {
        this.pruning = undefined
      }
    })()
    return this.pruning
  }

  /**
   * Set the gauges only the sources know (log retained for realtime syncs,
   * e.g. a PostgreSQL slot's WAL); for `/metrics`, at most `timeoutMs`.
   */
  async refreshStreamMetrics(timeoutMs = 2000): Promise<void> {
    if (!this.manager.plan.syncs.some((s) => s.mode === 'realtime')) return
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)))
    try {
      const statuses = await Promise.race([this.manager.status(), timeout])
      for (const s of statuses ?? []) {
        if (s.stream?.retainedBytes !== undefined) this.metrics.slotRetained.set({ sync: s.syncId }, s.stream.retainedBytes)
      }
    } catch (error) {
      this.logger.debug({ error: error instanceof Error ? error.message : String(error) }, 'stream metrics unavailable')
    } finally {
      clearTimeout(timer)
    }
  }

  /** When the sync's schedule fires next, if it has one. */
  nextRunAt(syncId: string): string | undefined {
    return this.jobs.get(syncId)?.nextRun()?.toISOString()
  }

  /**
   * Start a run now (the API's `POST /run`); a realtime sync that was
   * cancelled streams again. Refused while one runs, or while stopping.
   */
  trigger(syncId: string, opts: StartOptions = {}): ActiveRun | TriggerRefusal {
    const slot = this.slots.get(syncId)!
    if (this.stopping) return 'stopping'
    if (slot.active) return 'running'
    if (slot.plan.mode === 'realtime' && !opts.dryRun) {
      this.keepStreaming(slot)
      return slot.active ?? 'running'
    }
    return slot.start('api', opts) ?? 'running'
  }

  /** Stop a sync's run at its next batch boundary (a realtime sync stays stopped until triggered). False when none runs. */
  cancel(syncId: string): boolean {
    const slot = this.slots.get(syncId)!
    this.streaming.delete(syncId)
    this.wakeups.get(syncId)?.()
    return slot.cancel('cancelled through the API')
  }

  /**
   * Stop: no new ticks, every run stops at its next batch boundary (a
   * realtime sync after the batch in flight committed, its position saved),
   * and resolves once they all ended. The manager is left to the caller.
   */
  async stop(reason = 'stopping'): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    for (const job of this.jobs.values()) job.stop()
    this.pruneJob?.stop()
    this.streaming.clear()
    for (const wake of this.wakeups.values()) wake()
    const running = [...this.slots.values()].filter((s) => s.active)
    this.logger.info({ reason, running: running.map((s) => s.plan.id) }, 'stopping: letting batches in flight finish')
    const done = running.map((s) => s.active!.done)
    for (const slot of running) slot.cancel(reason)
    await Promise.all([...done, ...this.keepers, this.pruning])
    this.logger.info('every run stopped; state saved')
  }

  private tick(slot: SyncSlot, job: Cron): void {
    if (this.stopping) return
    const tick = new Date().toISOString()
    if (slot.active) {
      this.metrics.skippedTicks.inc({ sync: slot.plan.id })
      this.logger.warn({ syncId: slot.plan.id, runId: slot.active.runId, tick, nextRunAt: job.nextRun()?.toISOString() }, 'tick skipped: the previous run still goes on')
      return
    }
    const run = slot.start('schedule')
    this.logger.debug({ syncId: slot.plan.id, runId: run?.firstRunId, tick }, 'tick')
  }

  /** Keep a realtime sync streaming until cancelled or stopped, restarting it with backoff after a failure. */
  private keepStreaming(slot: SyncSlot): void {
    const id = slot.plan.id
    if (this.streaming.has(id) || this.stopping) return
    this.streaming.add(id)
    const keeper = (async () => {
      let failures = 0
      while (this.streaming.has(id) && !this.stopping) {
        const run = slot.start('realtime')
        if (!run) break
        const started = Date.now()
        const result = await run.done
        if (!this.streaming.has(id) || this.stopping) break
        if (Date.now() - started >= HEALTHY_STREAM_MS) failures = 0
        failures++
        const delay = retryDelayMs(failures, durationMs(slot.plan.retryDelay))
        this.logger.warn({ syncId: id, runId: result?.runId, status: result?.status, errorCode: result?.errorCode, delayMs: delay }, 'realtime sync stopped; restarting after a pause')
        await this.pause(id, delay)
      }
      this.streaming.delete(id)
    })()
    this.keepers.push(keeper)
    // The first run starts synchronously above, so `slot.active` is set on return.
  }

  /** Wait `ms`, or until cancel/stop wakes the sync. */
  private pause(syncId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.wakeups.set(syncId, () => {
        this.wakeups.delete(syncId)
        done()
      })
    })
  }
}
