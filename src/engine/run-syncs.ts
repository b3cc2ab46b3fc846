/**
 * Running several syncs together. When their destinations are tables of one
 * datasource linked by foreign keys, rows are written parents first and
 * deleted children first: every sync runs with its deletes deferred, then a
 * deletes-only pass runs in reverse order. Tables in a foreign key cycle
 * (foreign-key-plan.ts) are written with the destination's checks off, and a
 * last pass checks their foreign keys once every sync has written.
 */
import { randomUUID } from 'node:crypto'
import { runWithRetries } from '../scheduler/retry.js'
import { planForeignKeys, type ForeignKeyNode } from './foreign-key-plan.js'
import { prepareSync, type PreparedSync } from './prepare-sync.js'
import { runSync, type RunOptions, type RunSyncOptions, type RunTarget, type SyncResult } from './run-sync.js'

/**
 * One sync's run, retried after transient failures as its plan says
 * (`retries`, `retryDelay`). A realtime stream is not: it reconnects within
 * its run, up to `retries` per outage (realtime-sync.ts), and the daemon
 * restarts a stream that ended.
 */
function runRetrying(target: RunTarget, opts: RunSyncOptions): Promise<SyncResult> {
  const streams = target.plan.mode === 'realtime' && !opts.dryRun && !opts.deletesOnly
  return runWithRetries(streams ? { ...target.plan, retries: 0 } : target.plan, (attempt) => {
    const runId = (attempt === 1 ? opts.runId : undefined) ?? randomUUID()
    opts.onAttempt?.({ syncId: target.plan.id, attempt, runId })
    return runSync(target, { ...opts, attempt, runId })
  }, {
    signal: opts.signal,
    onRetry: opts.onRetry,
  })
}

/** Order syncs so a sync whose destination references another's comes after it (cycles: plan order). */
export function parentsFirst(prepared: readonly PreparedSync[]): { order: number[]; linked: boolean } {
  const { order, linked } = planForeignKeys(prepared.map(foreignKeyNode))
  return { order, linked }
}

/** What {@link planForeignKeys} needs of a prepared sync. */
export function foreignKeyNode(p: PreparedSync): ForeignKeyNode {
  return { destination: p.destination, destinationEntity: p.destinationEntity, foreignKeys: p.plan?.foreignKeys }
}

/** Fold a later pass of a sync (deletes, foreign key check) into its result: time, notes, and a failure. */
function mergePass(first: SyncResult, pass: SyncResult): void {
  first.durationMs += pass.durationMs
  if (pass.notes) first.notes = [...(first.notes ?? []), ...pass.notes]
  if (pass.status !== 'succeeded') Object.assign(first, { status: pass.status, error: pass.error, errorCode: pass.errorCode, failure: pass.failure, ...(pass.orphans ? { orphans: pass.orphans } : {}) })
}

/**
 * Run the given syncs once, in foreign-key order where that matters.
 * Realtime syncs (not dry runs) stream until the signal stops them, so they
 * run beside the others, concurrently, rather than in that order; results
 * come in the order of `targets`.
 */
export async function runSyncs(targets: readonly RunTarget[], opts: RunOptions = {}): Promise<SyncResult[]> {
  // A run id given in advance names one run.
  if (targets.length > 1) opts = { ...opts, runId: undefined }
  const streams = targets.filter((t) => t.plan.mode === 'realtime' && !opts.dryRun)
  if (streams.length === 0) return runBatchSyncs(targets, opts)
  const batch = targets.filter((t) => !streams.includes(t))
  const streaming = Promise.all(streams.map((t) => runRetrying(t, opts)))
  // Both awaited together, so a failure of either is never left unhandled.
  const [batchResults, streamResults] = await Promise.all([runBatchSyncs(batch, opts), streaming])
  // Syncs skipped after a stop have no result.
  const byId = new Map([...batchResults, ...streamResults].map((r) => [r.id, r]))
  return targets.map((t) => byId.get(t.plan.id)).filter((r): r is SyncResult => r !== undefined)
}

/** Syncs that end by themselves, one after another, parents first. */
async function runBatchSyncs(targets: readonly RunTarget[], opts: RunOptions): Promise<SyncResult[]> {
  if (targets.length === 0) return []
  if (targets.length === 1) return [await runRetrying(targets[0]!, opts)]

  // Prepare every sync first to learn the destinations' foreign keys; a sync
  // that cannot be prepared runs alone so its failure is recorded as usual.
  const prepared: (PreparedSync | undefined)[] = []
  for (const t of targets) {
    const facts = await t.state.getSyncFacts(t.plan.id)
    prepared.push(await prepareSync(t.plan, t.index, t.source, t.destination, { dryRun: opts.dryRun ?? false, signal: opts.signal, facts }).catch(() => undefined))
  }
  const ready = targets.map((t, i) => ({ target: t, prepared: prepared[i] })).filter((x): x is { target: RunTarget; prepared: PreparedSync } => x.prepared !== undefined)
  const { order, linked, deferred } = planForeignKeys(ready.map((r) => foreignKeyNode(r.prepared)))
  const checksOf = (i: number) => (deferred.has(i) ? ('off' as const) : ('on' as const))

  const results = new Map<RunTarget, SyncResult>()
  for (const t of targets) if (!prepared[targets.indexOf(t)]) results.set(t, await runRetrying(t, opts))
  for (const i of order) {
    if (opts.signal?.aborted) break
    const { target, prepared: p } = ready[i]!
    results.set(target, await runRetrying(target, { ...opts, prepared: p, deferDeletes: linked, foreignKeyChecks: checksOf(i) }))
  }
  if (linked) {
    for (const i of [...order].reverse()) {
      if (opts.signal?.aborted) break
      const { target, prepared: p } = ready[i]!
      const first = results.get(target)
      // A two-way sync's deletes-only run is its key pass, deleting on both sides (run-sync.ts).
      if (!first || first.status === 'failed' || first.status === 'cancelled' || target.plan.deletes === 'ignore') continue
      const deletes = await runRetrying(target, { ...opts, prepared: p, deletesOnly: true, foreignKeyChecks: checksOf(i) })
      first.created += deletes.created
      first.updated += deletes.updated
      first.conflicts += deletes.conflicts
      first.deleted += deletes.deleted
      first.failed += deletes.failed
      mergePass(first, deletes)
    }
  }
  // Tables written with their checks off are checked once every sync of the run has written.
  for (const i of order) {
    if (opts.signal?.aborted || opts.dryRun) break
    const { target, prepared: p } = ready[i]!
    const first = results.get(target)
    if (!deferred.has(i) || !first || first.status === 'failed' || first.status === 'cancelled') continue
    mergePass(first, await runRetrying(target, { ...opts, prepared: p, orphanCheck: p.destinationEntity.foreignKeys }))
  }
  return targets.map((t) => results.get(t)).filter((r): r is SyncResult => r !== undefined)
}
