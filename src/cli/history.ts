/** `syncline history [SYNC]`: run history, newest first, with rejected records. */
import { withManager } from './context.js'
import { jsonReplacer, print, printJson, type GlobalOptions } from './output.js'

/** Print recent runs; with a sync id, also the records its runs rejected. */
export async function historyCommand(syncId: string | undefined, opts: GlobalOptions & { limit?: number }): Promise<number> {
  return withManager(opts, async (manager) => {
    // A sync removed from the plan keeps its history; only an id nobody knows is a mistake.
    if (syncId !== undefined && !manager.plan.syncs.some((s) => s.id === syncId) && !(await manager.status()).some((s) => s.syncId === syncId)) {
      manager.getPlan(syncId)
    }
    const limit = opts.limit ?? 20
    const runs = await manager.history(syncId, limit)
    const errors = syncId !== undefined ? await manager.recordErrors({ syncId, limit: 50 }) : []
    if (opts.json) {
      for (const run of runs) printJson({ kind: 'run', ...run })
      for (const e of errors) printJson({ kind: 'recordError', ...e })
      return 0
    }
    if (runs.length === 0) print(syncId ? `${syncId} has not run yet.` : 'No runs yet.')
    for (const r of runs) {
      const counts = `read ${r.read}, created ${r.created}, updated ${r.updated}, deleted ${r.deleted}, unchanged ${r.unchanged}, failed ${r.failed}`
      print(`${r.startedAt}  ${r.syncId}  ${r.status}${r.dryRun ? ' (dry run)' : ''}  ${r.mode}  ${counts}  ${r.durationMs ?? '-'} ms`)
      if (r.error) print(`    ${r.error.split('\n')[0]}`)
      for (const note of r.notes ?? []) print(`    note: ${note}`)
    }
    if (errors.length > 0) {
      print(`\nRejected records (newest first):`)
      for (const e of errors) print(`  ${e.at}  ${e.operation} ${e.recordId}: ${e.reason.split('\n')[0]}\n    ${JSON.stringify(e.record, jsonReplacer)}`)
    }
    return 0
  })
}
