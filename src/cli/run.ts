/**
 * `syncline run [SYNC…] [--full] [--dry-run]`: run syncs once with progress.
 * Ctrl-C (or SIGTERM) stops at the next batch boundary, keeps the last
 * committed watermark and exits 130; a second one exits at once, its runs
 * marked failed (interrupted). Realtime syncs stream until stopped that way;
 * for them a stop is their normal end (exit 0, position saved). A sync
 * another run is running fails (exit 1).
 */
import type { Operation } from '../engine/batch-writer.js'
import type { SyncResult } from '../engine/run-sync.js'
import { markHeldRunsInterrupted } from '../state/run-lock.js'
import { withManager } from './context.js'
import { EXIT, jsonReplacer, log, print, printJson, type GlobalOptions } from './output.js'
import { createProgressDisplay } from './progress-display.js'

/** Options of `syncline run`. */
export interface RunCommandOptions extends GlobalOptions {
  full?: boolean
  dryRun?: boolean
  quiet?: boolean
}

const PLANNED_SHOWN = 20
/** How long a second Ctrl-C waits to mark its runs interrupted before it exits anyway. */
const MARK_TIMEOUT_MS = 2000

/** Run the named syncs (default: all) and print one summary per sync. */
export async function runCommand(ids: string[], opts: RunCommandOptions): Promise<number> {
  const controller = new AbortController()
  let interrupts = 0
  const onSigint = () => {
    interrupts++
    // A third Ctrl-C does not wait for the state store either.
    if (interrupts > 2) process.exit(EXIT.cancelled)
    if (interrupts > 1) {
      // Their locks stay until this process is gone, so no other run starts while one of these still writes.
      const marked = markHeldRunsInterrupted('stopped by a second Ctrl-C')
      const timeout = new Promise((resolve) => setTimeout(resolve, MARK_TIMEOUT_MS).unref())
      void Promise.race([marked, timeout]).finally(() => process.exit(EXIT.cancelled))
      return
    }
    log('\nStopping at the next batch boundary (Ctrl-C again to quit at once)…')
    controller.abort()
  }
  process.on('SIGINT', onSigint)
  // A service manager stops with SIGTERM: the same orderly stop as Ctrl-C.
  process.on('SIGTERM', onSigint)
  const display = createProgressDisplay(opts)
  const planned = new Map<string, Planned>()

  try {
    return await withManager(opts, async (manager) => {
      const results = await manager.runMany(ids.length > 0 ? ids : undefined, {
        signal: controller.signal,
        full: opts.full ?? false,
        dryRun: opts.dryRun ?? false,
        onProgress: (p) => display.update(p),
        onPlanned: opts.dryRun ? (id, ops, side) => collectPlanned(planned, side === 'source' ? `${id}\u0000source` : id, ops) : undefined,
        onRetry: (failed, delayMs) => log(`${failed.id}: attempt ${failed.attempt} failed (${failed.errorCode ?? 'error'}: ${firstLine(failed.error)}); retrying in ${(delayMs / 1000).toFixed(1)} s`),
      })
      display.stop()
      if (results.length === 0 && !opts.json) print('No syncs to run: the plan has none yet (add one under syncs:).')
      for (const r of results) printResult(r, opts, planned.get(r.id), planned.get(`${r.id}\u0000source`))
      if (results.some((r) => r.status === 'cancelled')) return EXIT.cancelled
      if (results.some((r) => r.status === 'failed' && r.failure === 'config')) return EXIT.badConfig
      if (results.some((r) => r.status === 'failed' || r.status === 'partial')) return EXIT.syncFailed
      return EXIT.ok
    })
  } finally {
    display.stop()
    process.off('SIGINT', onSigint)
    process.off('SIGTERM', onSigint)
  }
}

function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n')[0] ?? ''
}

/** A dry run's operations on one side: the first few of each kind, and how many in all. */
type Planned = { create: string[]; update: string[]; delete: string[]; total: Record<string, number> }

function collectPlanned(planned: Map<string, Planned>, id: string, ops: readonly Operation[]): void {
  let entry = planned.get(id)
  if (!entry) planned.set(id, (entry = { create: [], update: [], delete: [], total: { create: 0, update: 0, delete: 0 } }))
  for (const op of ops) {
    entry.total[op.kind] = (entry.total[op.kind] ?? 0) + 1
    const list = entry[op.kind]
    if (list.length < PLANNED_SHOWN) list.push(JSON.stringify(op.kind === 'delete' ? op.key : op.row, jsonReplacer))
  }
}

function printResult(r: SyncResult, opts: RunCommandOptions, planned?: Planned, plannedAtSource?: Planned): void {
  if (opts.json) {
    const line: Record<string, unknown> = {
      id: r.id,
      status: r.status,
      mode: r.mode,
      read: r.read,
      created: r.created,
      updated: r.updated,
      deleted: r.deleted,
      unchanged: r.unchanged,
      failed: r.failed,
      conflicts: r.conflicts,
      durationMs: r.durationMs,
    }
    if (r.dryRun) line.dryRun = true
    if (r.attempt > 1) line.attempt = r.attempt
    if (r.error !== undefined) line.error = r.error
    if (r.errorCode !== undefined) line.errorCode = r.errorCode
    if (r.notes !== undefined) line.notes = r.notes
    if (r.orphans !== undefined) line.orphans = r.orphans
    printJson(line)
    return
  }
  const verb = r.dryRun ? 'would be' : ''
  const summary = `${r.created} created, ${r.updated} updated, ${r.deleted} deleted, ${r.unchanged} unchanged, ${r.failed} failed`
  const attempt = r.attempt > 1 ? ` (attempt ${r.attempt})` : ''
  print(`${r.id}: ${r.status}${attempt}${r.dryRun ? ' (dry run: nothing written)' : ''} in ${(r.durationMs / 1000).toFixed(2)} s — ${r.read} read; ${verb ? `${verb}: ` : ''}${summary}`)
  if (r.error) print(`  ${r.error.split('\n').join('\n  ')}`)
  for (const note of r.notes ?? []) print(`  note: ${note}`)
  // A two-way sync also writes the source: each side's operations are listed under its name.
  if (planned) printPlanned(planned, plannedAtSource ? ' at the destination' : '')
  if (plannedAtSource) printPlanned(plannedAtSource, ' at the source')
}

function printPlanned(planned: Planned, where: string): void {
  for (const kind of ['create', 'update', 'delete'] as const) {
    const total = planned.total[kind] ?? 0
    if (total === 0) continue
    print(`  would ${kind} ${total}${where}:`)
    for (const row of planned[kind]) print(`    ${row}`)
    if (total > planned[kind].length) print(`    … and ${total - planned[kind].length} more`)
  }
}
