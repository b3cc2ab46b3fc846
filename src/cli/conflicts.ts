/**
 * `syncline conflicts` lists the conflicts two-way syncs queued for a person
 * (`conflict: manual`); `syncline conflicts resolve ID --take source|destination`
 * settles one by writing the taken side's current row over the other.
 */
import { SynclineError } from '../errors.js'
import type { StoredConflict } from '../state/two-way-state.js'
import { withManager } from './context.js'
import { jsonReplacer, print, printJson, type GlobalOptions } from './output.js'

/** Options of `syncline conflicts`. */
export interface ConflictsOptions extends GlobalOptions {
  sync?: string
  all?: boolean
  take?: string
  limit?: number
}

/** List open conflicts, or resolve one (`resolve ID --take source|destination`). */
export async function conflictsCommand(action: string | undefined, id: string | undefined, opts: ConflictsOptions): Promise<number> {
  if (action !== undefined && action !== 'resolve') {
    throw new SynclineError('PLAN_INVALID', 'config', `Unknown conflicts action '${action}'; use 'syncline conflicts' to list them or 'syncline conflicts resolve ID --take source|destination'.`)
  }
  if (action === 'resolve') {
    if (id === undefined) throw new SynclineError('PLAN_INVALID', 'config', `Name the conflict to resolve: 'syncline conflicts resolve ID --take source|destination' (ids are listed by 'syncline conflicts').`)
    if (opts.take !== 'source' && opts.take !== 'destination') {
      throw new SynclineError('PLAN_INVALID', 'config', `Say which side to keep: --take source or --take destination${opts.take === undefined ? '' : ` (not '${opts.take}')`}.`)
    }
    const take = opts.take
    return withManager(opts, async (manager) => {
      const resolved = await manager.resolveConflict(id, take)
      if (opts.json) printJson(resolved)
      else print(`Resolved conflict ${resolved.id} of ${resolved.syncId} (record ${resolved.recordId}): took the ${take}'s row.`)
      return 0
    })
  }
  return withManager(opts, async (manager) => {
    if (opts.sync !== undefined) manager.getPlan(opts.sync)
    const conflicts = await manager.conflicts({ ...(opts.sync ? { syncId: opts.sync } : {}), open: !opts.all, limit: opts.limit ?? 100 })
    if (opts.json) {
      for (const c of conflicts) printJson(c)
      return 0
    }
    if (conflicts.length === 0) print(opts.all ? 'No conflicts recorded.' : 'No open conflicts.')
    for (const c of conflicts) print(describe(c))
    return 0
  })
}

function describe(c: StoredConflict): string {
  const state = c.resolvedAt ? `resolved (${c.resolution ?? '?'}) at ${c.resolvedAt}` : 'open'
  const lines = [`${c.id}  ${c.syncId}  record ${c.recordId}  ${c.kind}  detected ${c.detectedAt}  ${state}`]
  lines.push(`    source:      ${c.source === null ? '(deleted)' : JSON.stringify(c.source, jsonReplacer)}`)
  lines.push(`    destination: ${c.destination === null ? '(deleted)' : JSON.stringify(c.destination, jsonReplacer)}`)
  if (c.base.changed) lines.push(`    changed since the base: source ${c.base.changed.source.join(', ') || '-'}; destination ${c.base.changed.destination.join(', ') || '-'}`)
  if (!c.resolvedAt) lines.push(`    settle: syncline conflicts resolve ${c.id} --take source|destination`)
  return lines.join('\n')
}
