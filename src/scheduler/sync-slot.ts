/**
 * One sync inside the daemon: at most one run of it at a time here (the run
 * lock in the state store guards across processes too), the run in flight
 * with its cancel switch, and what the last attempt said, so the API can
 * tell "running", "retrying" or "the datasource is down" without asking the
 * datasource.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { SyncResult } from '../engine/run-sync.js'
import type { SyncPlan } from '../plan/schema.js'
import type { DaemonMetrics } from '../server/metrics.js'
import type { SyncManager } from '../sync-manager.js'

/** What started a run. */
export type RunTrigger = 'schedule' | 'api' | 'realtime'

/** A run in flight (with its retries). */
export interface ActiveRun {
  /** The first attempt's id: what `POST /api/syncs/:id/run` answered. */
  readonly firstRunId: string
  /** The attempt going on now (or the one that failed, while waiting to retry). */
  runId: string
  attempt: number
  /** Waiting before a retry, until this time. */
  retryAt?: string
  readonly trigger: RunTrigger
  readonly startedAt: string
  readonly controller: AbortController
  /** The last attempt's result. Never rejects. */
  readonly done: Promise<SyncResult | undefined>
}

/** Why the last attempt failed, for the sync's status. */
export interface SyncProblem {
  code: string
  message: string
  at: string
  /** `transient` (a datasource down, retried), `config`, `data`, `internal`. */
  failure: string
}

/** Options of a run the API asks for. */
export interface StartOptions {
  full?: boolean
  dryRun?: boolean
}

/** What a slot needs from the daemon. */
export interface SlotContext {
  manager: SyncManager
  logger: Logger
  metrics: DaemonMetrics
}

/** One sync's runs in this daemon. */
export class SyncSlot {
  readonly plan: SyncPlan
  active: ActiveRun | undefined
  /** The last attempt's failure; cleared by an attempt that succeeds. */
  problem: SyncProblem | undefined
  /** The last result of a run that this daemon started and that ended. */
  lastResult: SyncResult | undefined
  private readonly ctx: SlotContext
  private readonly log: Logger

  constructor(plan: SyncPlan, ctx: SlotContext) {
    this.plan = plan
    this.ctx = ctx
    this.log = ctx.logger.child({ syncId: plan.id })
  }

  /**
   * Start a run (retried as the plan says), unless one goes on: then
   * undefined and nothing starts.
   */
  start(trigger: RunTrigger, opts: StartOptions = {}): ActiveRun | undefined {
    if (this.active) return undefined
    const firstRunId = randomUUID()
    const controller = new AbortController()
    const { manager, metrics } = this.ctx
    const id = this.plan.id
    metrics.running.set({ sync: id }, 1)
    // Filled in below, once `done` exists; the callbacks run only after that.
    const self: { run?: ActiveRun } = {}
    const done = manager
      .run(id, {
        signal: controller.signal,
        runId: firstRunId,
        full: opts.full ?? false,
        dryRun: opts.dryRun ?? false,
        onProgress: (p) => metrics.progress(p),
        onAttempt: ({ attempt, runId }) => {
          if (self.run) Object.assign(self.run, { runId, attempt, retryAt: undefined })
          this.log.info({ runId, attempt, trigger, mode: this.plan.mode }, attempt === 1 ? 'run started' : 'retry started')
        },
        onRetry: (failed, delayMs) => {
          metrics.finished(failed)
          metrics.retries.inc({ sync: id })
          this.noteProblem(failed)
          if (self.run) self.run.retryAt = new Date(Date.now() + delayMs).toISOString()
          this.log.warn({ runId: failed.runId, attempt: failed.attempt, errorCode: failed.errorCode, error: failed.error, delayMs }, 'attempt failed, retrying')
        },
      })
      .then(
        (result) => this.ended(result),
        (error: unknown) => {
          // manager.run reports failures as results; this is a bug or the state store gone.
          this.log.error({ runId: self.run?.runId, error: error instanceof Error ? error.message : String(error) }, 'run could not be carried out')
          this.problem = { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error), at: new Date().toISOString(), failure: 'internal' }
          return undefined
        },
      )
      .finally(() => {
        this.active = undefined
        metrics.running.set({ sync: id }, 0)
      })
    const active: ActiveRun = { firstRunId, runId: firstRunId, attempt: 1, trigger, startedAt: new Date().toISOString(), controller, done }
    self.run = active
    this.active = active
    return active
  }

  /** Ask the run in flight to stop at its next batch boundary; false when none runs. */
  cancel(reason = 'cancelled'): boolean {
    if (!this.active) return false
    this.log.info({ runId: this.active.runId, reason }, 'stopping the run at the next batch boundary')
    this.active.controller.abort()
    return true
  }

  private ended(result: SyncResult): SyncResult {
    this.ctx.metrics.finished(result)
    const fields = { runId: result.runId, attempt: result.attempt, status: result.status, durationMs: result.durationMs, read: result.read, created: result.created, updated: result.updated, deleted: result.deleted, failed: result.failed }
    if (result.heldBy) {
      // Another process runs it: nothing was recorded, and nothing is wrong with the sync.
      this.log.info({ runId: result.runId, heldBy: { pid: result.heldBy.pid, host: result.heldBy.host, runId: result.heldBy.runId } }, 'run skipped: another process runs this sync')
      return result
    }
    this.lastResult = result
    if (result.status === 'failed') {
      this.noteProblem(result)
      this.log.error({ ...fields, errorCode: result.errorCode, error: result.error }, 'run failed')
    } else {
      this.problem = undefined
      this.log.info(fields, 'run finished')
    }
    return result
  }

  private noteProblem(result: SyncResult): void {
    this.problem = { code: result.errorCode ?? 'INTERNAL', message: result.error ?? 'failed', at: new Date().toISOString(), failure: result.failure ?? 'internal' }
  }
}
