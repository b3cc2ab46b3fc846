/**
 * `syncline verify [SYNC…]`: compare each sync's source and destination
 * without writing and print what differs. Exit 0 when every sync is in
 * step, 1 when one is not (or could not be read), 2 when one cannot be
 * compared as configured (unknown sync or entity, a side that cannot scan in
 * key order), 130 on Ctrl-C.
 */
import { SynclineError } from '../errors.js'
import type { VerifyResult } from '../engine/verify-sync.js'
import { withManager } from './context.js'
import { EXIT, exitCodeFor, print, printJson, reportError, type GlobalOptions } from './output.js'

/** Verify the named syncs (default: all) and print one summary per sync. */
export async function verifyCommand(ids: string[], opts: GlobalOptions): Promise<number> {
  const controller = new AbortController()
  const onSigint = () => controller.abort()
  process.on('SIGINT', onSigint)
  process.on('SIGTERM', onSigint)
  try {
    return await withManager(opts, async (manager) => {
      // Unknown ids fail before anything is read.
      const plans = (ids.length > 0 ? ids : manager.plan.syncs.map((s) => s.id)).map((id) => manager.getPlan(id))
      if (plans.length === 0 && !opts.json) print('No syncs to verify: the plan has none yet (add one under syncs:).')
      let exit: number = EXIT.ok
      for (const plan of plans) {
        try {
          const result = await manager.verify(plan.id, { signal: controller.signal })
          printResult(result, opts)
          if (!result.inStep) exit = Math.max(exit, EXIT.syncFailed)
        } catch (error) {
          if (controller.signal.aborted || (error instanceof SynclineError && error.code === 'CANCELLED')) return EXIT.cancelled
          exit = Math.max(exit, printFailure(plan.id, error, opts))
        }
      }
      return exit
    })
  } finally {
    process.off('SIGINT', onSigint)
    process.off('SIGTERM', onSigint)
  }
}

/** One sync that could not be compared: a line naming it (the other syncs are still verified). */
function printFailure(id: string, error: unknown, opts: GlobalOptions): number {
  if (!(error instanceof SynclineError)) return reportError(error, opts)
  if (opts.json) printJson({ id, inStep: false, error: error.message, errorCode: error.code })
  else print(`${id}: not verified — ${error.message.split('\n').join('\n  ')}`)
  return exitCodeFor(error)
}

function printResult(r: VerifyResult, opts: GlobalOptions): void {
  if (opts.json) {
    const { id, direction, inStep, compared, missing, extra, changed, failed, kept, samples, durationMs } = r
    printJson({ id, direction, inStep, compared, missing, extra, changed, failed, kept, samples, durationMs })
    return
  }
  const seconds = (r.durationMs / 1000).toFixed(2)
  const kept = r.kept > 0 ? `; ${r.kept} destination-only kept (deletes: ignore)` : ''
  print(`${r.id}: ${r.inStep ? 'in step' : 'NOT in step'} — ${r.compared} compared in ${seconds} s: ${r.missing} missing, ${r.extra} extra, ${r.changed} changed, ${r.failed} failed${kept}`)
  const twoWay = r.direction === 'two-way'
  section('missing (in the source, not the destination)', r.missing, r.samples.missing)
  section(twoWay ? 'extra (at the destination, not the source)' : 'extra (at the destination, a run would delete them)', r.extra, r.samples.extra)
  section(
    'changed',
    r.changed,
    r.samples.changed.map((id, i) => `${id} (${(r.changedFields[i] ?? []).join(', ')})`),
  )
  section('failed (the mapping rejects them)', r.failed, r.samples.failed)
}

function section(title: string, total: number, ids: string[]): void {
  if (total === 0) return
  print(`  ${title}: ${ids.join(', ')}${total > ids.length ? ` … and ${total - ids.length} more` : ''}`)
}
