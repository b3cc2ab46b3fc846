/**
 * One run of one sync: prepare, pick the algorithm for its mode, keep
 * history, and turn every ending (success, rejected records, failure,
 * cancellation) into a result. A run never throws for a sync that failed;
 * the result says so.
 */
import { randomUUID } from 'node:crypto'
import type { Connector, ForeignKeyChecks } from '../connectors/connector.js'
import { CancelledError, SynclineError, type ErrorCode, type FailureType } from '../errors.js'
import type { SyncPlan } from '../plan/schema.js'
import { acquireRunLock, type HeldRunLock } from '../state/run-lock.js'
import type { RunCounts, RunLock, RunRecord, RunStatus, StateStore, SyncFacts } from '../state/state-store.js'
import { BatchWriter, WritePipeline, type Operation } from './batch-writer.js'
import { requireChangeCapture, requireOrderedKeyScan, stagingOf } from './capabilities.js'
import { reconcileDeletes } from './delete-reconciliation.js'
import { deliveredFacts, refillReason } from './delivery-facts.js'
import { findOrphanReports, orphansError, orphansOf, type OrphanReport } from './foreign-key-check.js'
import { planForeignKeys } from './foreign-key-plan.js'
import { fullSync } from './full-sync.js'
import { incrementalSync } from './incremental-sync.js'
import { realtimeSync } from './realtime-sync.js'
import { prepareSync, type PreparedSync } from './prepare-sync.js'
import type { ConflictResolver } from './conflict-resolution.js'
import { twoWaySync } from './two-way-sync.js'
import { twoWayRealtimeSync } from './two-way-realtime.js'
import { emptyCounts, type ProgressListener } from './progress.js'
import { destinationRowsAtStart, report, saveWatermark, type RunContext } from './run-context.js'
import type { ForeignKeyInfo } from '../values/canonical.js'
import { capWatermark, isClockCursor, watermarkTracker } from './watermark.js'

/** Options of `manager.run()` and `syncline run`. */
export interface RunOptions {
  signal?: AbortSignal
  onProgress?: ProgressListener
  /** Write nothing; report what would be created, updated and deleted. */
  dryRun?: boolean
  /** Ignore the saved watermark and compare everything (incremental syncs). */
  full?: boolean
  /** Dry runs: receives each batch of operations that would be made. */
  /** Dry runs: the operations that would be made, at the destination or (two-way) at the source. */
  onPlanned?: (syncId: string, operations: readonly Operation[], side: 'source' | 'destination') => void
  /**
   * The run id of the first attempt (one sync only; default a random UUID),
   * for a caller that hands it out before the run starts (the daemon's API).
   */
  runId?: string
  /** Before each retry of a transient failure: the attempt that failed and the wait before the next. */
  onRetry?: (failed: SyncResult, delayMs: number) => void
  /** As each attempt starts (before its run lock is taken): its number and run id. */
  onAttempt?: (attempt: { syncId: string; attempt: number; runId: string }) => void
  /** Two-way syncs: decides conflicts before the plan's `conflict` strategy (`manager.on('conflict', fn)`). */
  onConflict?: ConflictResolver
}

/** The outcome of one run (also the `run --json` line). */
export interface SyncResult extends RunCounts {
  id: string
  runId: string
  status: RunStatus
  mode: string
  dryRun: boolean
  durationMs: number
  error?: string
  errorCode?: ErrorCode
  failure?: FailureType
  /** What the run did beyond its counts, one sentence each (e.g. that it refilled the destination); absent when nothing. */
  notes?: string[]
  /** Which attempt this result is, from 1 (retries of transient failures are further attempts). */
  attempt: number
  /** The lock of the run that goes on, when this one did not start because of it (`LOCKED`; nothing recorded). */
  heldBy?: RunLock
  /** True when the run stopped because another process took its lock over (never retried: that one goes on). */
  lockLost?: boolean
  /** `FOREIGN_KEY_ORPHANS`: the destination rows whose foreign keys point nowhere, per foreign key. */
  orphans?: OrphanReport[]
}

/** What one run needs from its surroundings. */
export interface RunTarget {
  plan: SyncPlan
  /** Position in the plan's `syncs`, for error paths. */
  index: number
  source: Connector
  destination: Connector
  state: StateStore
}

/** Options the multi-sync runner adds for destinations with foreign keys. */
export interface RunSyncOptions extends RunOptions {
  /** Only the key reconciliation pass: the children-first delete phase. */
  deletesOnly?: boolean
  /** Skip deletes now; a deletes-only run follows, children first. */
  deferDeletes?: boolean
  /** Already prepared (the caller needed the destination's foreign keys). */
  prepared?: PreparedSync
  /**
   * Write with the destination's foreign key checks on or off, as the
   * multi-sync run decided (it checks the keys after all its syncs).
   * Absent: this run decides from its plan and its table's own foreign keys
   * (a self-reference), and checks them at its end.
   */
  foreignKeyChecks?: ForeignKeyChecks
  /** Only check these foreign keys of the destination table for rows that point nowhere (after writing with checks off). */
  orphanCheck?: readonly ForeignKeyInfo[]
  /** Which attempt this run is (default 1). */
  attempt?: number
}

/**
 * Run one sync once, holding its run lock throughout (dry runs too: they are
 * recorded as running like any run). While another run of the sync holds
 * the lock, the result is `failed` with `LOCKED`, and nothing is recorded:
 * history keeps showing the run that goes on.
 */
export async function runSync(target: RunTarget, opts: RunSyncOptions = {}): Promise<SyncResult> {
  const { plan, state } = target
  const startedAt = new Date()
  const attempt = opts.attempt ?? 1
  const record: RunRecord = {
    runId: opts.runId ?? randomUUID(),
    syncId: plan.id,
    mode: opts.orphanCheck ? 'foreign-keys' : opts.deletesOnly ? 'deletes' : opts.full && plan.mode === 'incremental' ? 'incremental (full)' : plan.mode,
    status: 'running',
    dryRun: opts.dryRun ?? false,
    startedAt: startedAt.toISOString(),
    attempt,
    ...emptyCounts(),
  }
  let lock: HeldRunLock
  try {
    lock = await acquireRunLock(state, record)
  } catch (error) {
    if (!(error instanceof SynclineError && error.code === 'LOCKED')) throw error
    const { runId, mode, dryRun } = record
    const durationMs = Date.now() - startedAt.getTime()
    const heldBy = (error.details as { lock?: RunLock } | undefined)?.lock
    return { id: plan.id, runId, status: 'failed', mode, dryRun, durationMs, attempt, ...emptyCounts(), error: error.message, errorCode: error.code, failure: error.failure, ...(heldBy ? { heldBy } : {}) }
  }
  try {
    return await runHolding(target, opts, record, lock)
  } finally {
    // A lock that cannot be released now (the state store went away) is taken over as stale later.
    await lock.release().catch(() => undefined)
  }
}

/** The run itself, once its lock is held. */
async function runHolding(target: RunTarget, userOpts: RunSyncOptions, record: RunRecord, lock: HeldRunLock): Promise<SyncResult> {
  const { plan, state } = target
  const startedAt = new Date(record.startedAt)
  const counts = emptyCounts()
  // Losing the lock stops the run like a cancellation would.
  const opts = { ...userOpts, signal: userOpts.signal ? AbortSignal.any([userOpts.signal, lock.lost]) : lock.lost }
  await state.startRun(record)

  let ctx: RunContext | undefined
  let failure: unknown
  try {
    // Refused before prepare creates the destination: these passes merge key-ordered scans.
    if (plan.mode === 'full' || opts.full || opts.deletesOnly || plan.deletes === 'propagate') {
      requireOrderedKeyScan(plan.id, plan.mode === 'full' || opts.full ? 'a full sync' : 'the delete reconciliation pass (deletes: propagate)', [
        { role: 'source', connector: target.source },
        { role: 'destination', connector: target.destination },
      ])
    }
    const facts = await state.getSyncFacts(plan.id)
    const prepared = opts.prepared ?? (await prepareSync(plan, target.index, target.source, target.destination, { dryRun: opts.dryRun ?? false, signal: opts.signal, facts }))
    // A self-referencing table alone: its rows may come children first, so its keys are checked at the end of this run.
    const checkOwnKeys = opts.foreignKeyChecks === undefined && !opts.orphanCheck && foreignKeyChecksOf(prepared) === 'off'
    const foreignKeyChecks = checkOwnKeys ? 'off' : (opts.foreignKeyChecks ?? 'on')
    const writer = new BatchWriter({
      destination: prepared.destination,
      entity: prepared.destinationEntity.name,
      keys: prepared.destinationKeys,
      syncId: plan.id,
      runId: record.runId,
      counts,
      maxErrors: plan.maxErrors,
      dryRun: opts.dryRun ?? false,
      // A realtime stream stops after the batch in flight committed, so its writes are never interrupted.
      signal: plan.mode === 'realtime' ? undefined : opts.signal,
      onRejected: (entries) => state.addRecordErrors(entries),
      onPlanned: opts.onPlanned ? (ops) => opts.onPlanned?.(plan.id, ops, 'destination') : undefined,
      foreignKeyChecks,
    })
    ctx = {
      prepared,
      runId: record.runId,
      counts,
      writer,
      pipeline: new WritePipeline(writer),
      state,
      dryRun: opts.dryRun ?? false,
      ...(opts.onPlanned ? { onPlanned: (ops: readonly Operation[], side: 'source') => opts.onPlanned?.(plan.id, ops, side) } : {}),
      full: opts.full ?? false,
      deletes: plan.deletes === 'ignore' ? 'ignore' : opts.deferDeletes ? 'defer' : 'propagate',
      foreignKeyChecks,
      signal: opts.signal,
      onProgress: opts.onProgress,
      // The preparing and drift notes belong to the sync's main pass, not to its delete or orphan-check passes.
      notes: opts.deletesOnly || opts.orphanCheck ? [] : [...prepared.notes, ...prepared.drift.notes],
    }
    report(ctx, 'prepare', 0, undefined, `Prepared ${plan.id}`)
    // Before any write: the facts saved at the end add this run's writes to it. A full
    // sync's pass counts (or has its comparison count) before its first write itself.
    if (!(plan.mode === 'full' && plan.direction !== 'two-way' && !opts.orphanCheck && !opts.deletesOnly)) await destinationRowsAtStart(ctx)
    if (opts.orphanCheck) await checkOrphans(ctx, opts.orphanCheck)
    else if (plan.direction === 'two-way') {
      const twoWay = { index: target.index, keyPassOnly: opts.deletesOnly === true, ...(opts.onConflict ? { onConflict: opts.onConflict } : {}) }
      // A realtime two-way sync makes its deletes as they stream: it has no separate key pass.
      if (plan.mode !== 'realtime') await twoWaySync(ctx, twoWay)
      else if (!opts.deletesOnly) await twoWayRealtimeSync(ctx, twoWay)
    } else if (opts.deletesOnly) await reconcileDeletes(ctx, { repairMissing: plan.mode === 'incremental' && !ctx.full })
    else await runMode(ctx, facts)
    await commitStaged(ctx)
    if (!ctx.dryRun && !opts.orphanCheck) await state.setSyncFacts(plan.id, await deliveredFacts(ctx))
    if (checkOwnKeys && !ctx.dryRun) await checkOrphans(ctx, prepared.destinationEntity.foreignKeys)
  } catch (error) {
    failure = error
    // Let a write in flight finish, so its checkpoint matches what landed.
    await ctx?.pipeline.drain().catch(() => undefined)
    // A staging destination keeps its old content; its pending watermark is dropped.
    if (ctx && !ctx.dryRun) await stagingOf(ctx.prepared.destination)?.rollback(ctx.prepared.destinationEntity.name).catch(() => undefined)
  }

  const finishedAt = new Date()
  // A run stopped because it lost its lock is not cancelled but failed: another run took over.
  const lostLock = (failure !== undefined || ctx?.stoppedStreaming === true) && lock.lost.aborted && userOpts.signal?.aborted !== true
  if (lostLock) failure = lock.lost.reason
  // A realtime sync stopped on request ends normally (its position is saved).
  const stopped = !lostLock && failure === undefined && ctx?.stoppedStreaming === true
  const cancelled = !lostLock && !stopped && (userOpts.signal?.aborted === true || failure instanceof CancelledError)
  const status: RunStatus = cancelled ? 'cancelled' : failure !== undefined ? 'failed' : counts.failed > 0 ? 'partial' : 'succeeded'
  Object.assign(record, counts, { status, finishedAt: finishedAt.toISOString(), durationMs: finishedAt.getTime() - startedAt.getTime() })
  const result: SyncResult = { id: plan.id, runId: record.runId, status, mode: record.mode, dryRun: record.dryRun, durationMs: record.durationMs ?? 0, attempt: record.attempt ?? 1, ...counts }
  if (failure !== undefined && !cancelled) {
    result.error = failure instanceof Error ? failure.message : String(failure)
    result.errorCode = failure instanceof SynclineError ? failure.code : 'INTERNAL'
    result.failure = failure instanceof SynclineError ? failure.failure : 'internal'
    record.error = result.error
    record.errorCode = result.errorCode
    if (lostLock) result.lockLost = true
    const orphans = orphansOf(failure)
    if (orphans) result.orphans = orphans
  } else if (cancelled) {
    result.error = record.error = 'cancelled; the last committed checkpoint is kept'
  } else if (counts.failed > 0) {
    result.error = record.error = `${counts.failed} record(s) rejected; see 'syncline history ${plan.id}'`
  }
  if (ctx && ctx.notes.length > 0) result.notes = record.notes = [...ctx.notes]
  await state.finishRun(record)
  if (ctx) report(ctx, 'done', counts.read, undefined, `${plan.id}: ${status}`)
  return result
}

/**
 * Whether a sync run on its own writes with the destination's foreign key
 * checks off: with `foreignKeys: defer`, or `auto` and a table that
 * references itself. A realtime stream never does: its changes arrive in
 * commit order, each already checked by the source.
 */
function foreignKeyChecksOf(prepared: PreparedSync): ForeignKeyChecks {
  if (prepared.plan.mode === 'realtime') return 'on'
  const plan = planForeignKeys([{ destination: prepared.destination, destinationEntity: prepared.destinationEntity, foreignKeys: prepared.plan.foreignKeys }])
  return plan.deferred.has(0) ? 'off' : 'on'
}

/** Check foreign keys of the destination table; rows that point nowhere fail the run. */
async function checkOrphans(ctx: RunContext, foreignKeys: readonly ForeignKeyInfo[]): Promise<void> {
  const { destination, destinationEntity, plan } = ctx.prepared
  if (ctx.dryRun || foreignKeys.length === 0) return
  const reports = await findOrphanReports(destination, destinationEntity.name, foreignKeys, ctx.signal)
  if (reports.length > 0) throw orphansError(plan.id, reports)
  ctx.notes.push(`Written with ${destination.name}'s foreign key checks off (its own session); every foreign key of ${destinationEntity.name} was checked afterwards and holds.`)
}

/** Make staged writes visible, then save the watermark that waited for them. */
async function commitStaged(ctx: RunContext): Promise<void> {
  const { destination, destinationEntity, plan } = ctx.prepared
  const staging = stagingOf(destination)
  if (ctx.dryRun || !staging) return
  await staging.commit(destinationEntity.name)
  if (ctx.pendingWatermark) await ctx.state.setWatermark(plan.id, ctx.pendingWatermark)
}

async function runMode(ctx: RunContext, facts: SyncFacts | undefined): Promise<void> {
  const { plan } = ctx.prepared
  if (plan.mode === 'realtime') {
    requireChangeCapture(plan.id, ctx.prepared.source)
    return realtimeSync(ctx, facts)
  }
  if (plan.mode === 'incremental' && !ctx.full) {
    const refill = await refillReason(ctx, await ctx.state.getWatermark(plan.id), facts)
    if (refill === undefined) return incrementalSync(ctx)
    // The destination lost what the watermark says was delivered: compare in full (below).
    ctx.notes.push(refill)
  }
  if (plan.cursor === undefined || ctx.prepared.cursorType === undefined) return fullSync(ctx)
  // A full pass of a sync with a cursor also leaves the watermark where an
  // incremental run should continue.
  const p = ctx.prepared
  const keyTypes = p.keys.map((k) => p.sourceEntity.fields.find((f) => f.name === k)?.type ?? 'text')
  const tracker = watermarkTracker(plan.cursor, ctx.prepared.cursorType, p.keys, keyTypes)
  const cap = isClockCursor(ctx.prepared.cursorType) ? await p.source.oldestOpenTransactionStart?.({ signal: ctx.signal }) : undefined
  await fullSync(ctx, tracker)
  if (ctx.writer.rejected === 0 && tracker.highest) await saveWatermark(ctx, capWatermark(tracker, tracker.highest, cap))
}
