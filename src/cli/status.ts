/** `syncline status`: every sync's watermark and last run. */
import type { StreamStatus } from '../sync-manager.js'
import { withManager } from './context.js'
import { jsonReplacer, print, printJson, type GlobalOptions } from './output.js'

/** Print one line per sync of the plan (and per sync that only has state). */
export async function statusCommand(opts: GlobalOptions): Promise<number> {
  return withManager(opts, async (manager) => {
    const states = new Map((await manager.status()).map((s) => [s.syncId, s]))
    const open = new Map<string, number>()
    for (const c of await manager.conflicts({})) open.set(c.syncId, (open.get(c.syncId) ?? 0) + 1)
    const ids = [...new Set([...manager.plan.syncs.map((s) => s.id), ...states.keys()])]
    for (const id of ids) {
      const state = states.get(id)
      const sync = manager.plan.syncs.find((s) => s.id === id)
      const row = {
        id,
        inPlan: sync !== undefined,
        mode: sync?.mode,
        source: sync ? `${sync.source.connection}.${sync.source.entity}` : undefined,
        destination: sync ? `${sync.destination.connection}.${sync.destination.entity}` : undefined,
        watermark: state?.watermark,
        lastRun: state?.lastRun,
        lock: state?.lock,
        stream: state?.stream,
        openConflicts: open.get(id) ?? 0,
      }
      if (opts.json) {
        printJson(row)
        continue
      }
      const last = state?.lastRun
      const lastText = last ? `${last.status} at ${last.startedAt} (${last.created} created, ${last.updated} updated, ${last.deleted} deleted, ${last.failed} failed${last.conflicts > 0 ? `, ${last.conflicts} conflicts` : ''})` : 'never run'
      print(`${id}${sync ? '' : ' (not in the plan)'}: ${lastText}`)
      if (sync) print(`  ${row.source} ${sync.direction === 'two-way' ? '↔' : '→'} ${row.destination}, ${sync.mode}${sync.direction === 'two-way' ? ', two-way' : ''}`)
      if (row.openConflicts > 0) print(`  ${row.openConflicts} open conflict(s): syncline conflicts --sync ${id}`)
      if (state?.lock) print(`  running now: pid ${state.lock.pid} on host ${state.lock.host} since ${state.lock.acquiredAt} (last heartbeat ${state.lock.heartbeatAt})`)
      if (state?.watermark) print(`  watermark: ${JSON.stringify(state.watermark, jsonReplacer)}`)
      if (state?.stream) print(`  stream: ${streamLine(state.stream)}`)
    }
    if (ids.length === 0 && !opts.json) print('No syncs in the plan yet.')
    return 0
  })
}

/** A realtime sync's stream in one line: position, lag, what the source keeps for it. */
function streamLine(stream: StreamStatus): string {
  const parts = [`position ${stream.position}`]
  if (stream.lagSeconds !== undefined) parts.push(`lag ${stream.lagSeconds.toFixed(1)} s`)
  if (stream.lagBytes !== undefined) parts.push(`${stream.lagBytes} bytes behind`)
  if (stream.retainedBytes !== undefined) parts.push(`${stream.retainedBytes} bytes of log retained`)
  if (stream.pendingChanges !== undefined) parts.push(`${stream.pendingChanges} changes pending`)
  parts.push(`consumer ${stream.consumer}${stream.active ? ' (reading now)' : ''}`)
  let line = parts.join(', ')
  if (stream.lost) line += `\n  stream position lost: ${stream.lost}; the next run compares source and destination and streams again`
  if (stream.sourceError) line += `\n  source not asked: ${stream.sourceError}`
  return line
}
