/**
 * `syncline forget SYNC`: forget a sync's state (watermark, history, record
 * errors, stream position) and drop a realtime sync's consumer at its source.
 * The next run starts over. Exit 0; an id neither in the plan nor in the
 * state is a usage error (exit 2).
 */
import { withManager } from './context.js'
import { print, printJson, type GlobalOptions } from './output.js'

/** Forget one sync. */
export async function forgetCommand(syncId: string, opts: GlobalOptions): Promise<number> {
  return withManager(opts, async (manager) => {
    // A sync removed from the plan keeps its state until forgotten: only an id nobody knows is a mistake.
    if (!manager.plan.syncs.some((s) => s.id === syncId) && !(await manager.status()).some((s) => s.syncId === syncId)) manager.getPlan(syncId)
    await manager.forget(syncId)
    if (opts.json) printJson({ id: syncId, forgotten: true })
    else print(`${syncId}: forgotten (its next run starts over)`)
    return 0
  })
}
