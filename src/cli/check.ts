/** `syncline check [CONNECTION…]`: connect and report version, capabilities, CDC readiness and change-feed consumers. */
import type { CheckReport } from '../connectors/connector.js'
import type { ChangeFeedReport, DroppedWatches } from '../engine/watch-retention.js'
import { SynclineError } from '../errors.js'
import { formatBytes } from '../state/record-excerpt.js'
import type { SyncManager } from '../sync-manager.js'
import { withManager } from './context.js'
import { EXIT, exitCodeFor, print, printJson, type GlobalOptions } from './output.js'

/** Check every named connection (default: all); exit 1 when one cannot be reached. */
export async function checkCommand(names: string[], opts: GlobalOptions): Promise<number> {
  return withManager(opts, async (manager) => {
    const selected = names.length > 0 ? names : Object.keys(manager.plan.connections)
    let exit: number = EXIT.ok
    for (const name of selected) {
      try {
        const report = await manager.checkConnection(name)
        const feeds = report.capabilities.cdc ? await changeFeeds(manager, name) : undefined
        if (opts.json) printJson({ ok: true, ...report, ...feeds })
        else print([describeReport(report), ...(feeds ? describeFeeds(feeds) : [])].join('\n'))
      } catch (error) {
        exit = Math.max(exit, exitCodeFor(error))
        const message = error instanceof Error ? error.message : String(error)
        if (opts.json) printJson({ connection: name, ok: false, ...(error instanceof SynclineError ? { code: error.code } : {}), error: message })
        else print(`${name}: FAILED\n  ${message}`)
      }
    }
    return exit
  })
}

interface FeedsSection {
  changeFeeds?: ChangeFeedReport[]
  droppedWatches?: string[]
  /** Why the consumers could not be listed (capture not set up, state store unreadable); the check itself still passed. */
  changeFeedsError?: string
}

/** The connection's consumers, after dropping expired watches; a failure here is reported, not fatal. */
async function changeFeeds(manager: SyncManager, name: string): Promise<FeedsSection | undefined> {
  try {
    const found = await manager.changeFeeds(name)
    if (found === undefined) return undefined
    return { changeFeeds: found.feeds, droppedWatches: found.dropped.dropped, ...dropFailures(found.dropped) }
  } catch (error) {
    return { changeFeedsError: error instanceof Error ? error.message : String(error) }
  }
}

function dropFailures(dropped: DroppedWatches): { changeFeedsError?: string } {
  if (dropped.failed.length === 0) return {}
  return { changeFeedsError: dropped.failed.map((f) => `could not drop ${f.consumer} (tried again next time): ${f.error.message}`).join('; ') }
}

function describeReport(r: CheckReport): string {
  const caps = Object.entries(r.capabilities)
    .filter(([, v]) => v)
    .map(([k]) => k)
  const lines = [`${r.connection}: ok (${r.kind} ${r.version})`, `  capabilities: ${caps.join(', ') || 'none'}`, `  change capture: ${r.cdc.ready ? 'ready' : `not ready${r.cdc.reason ? ` (${r.cdc.reason})` : ''}`}`]
  for (const [k, v] of Object.entries(r.details)) lines.push(`  ${k}: ${String(v)}`)
  return lines.join('\n')
}

/** `  change feeds: 2` then one line per consumer: name, entity, state, lag, retained log, pending rows, watch release. */
function describeFeeds(section: FeedsSection): string[] {
  const lines: string[] = []
  const feeds = section.changeFeeds
  if (feeds !== undefined) {
    lines.push(`  change feeds: ${feeds.length === 0 ? 'none' : feeds.length}`)
    for (const f of feeds) {
      const facts = [f.active ? 'active' : 'inactive']
      if (f.lagBytes !== undefined) facts.push(`lag ${formatBytes(f.lagBytes)}`)
      if (f.retainedBytes !== undefined) facts.push(`retains ${formatBytes(f.retainedBytes)}`)
      if (f.pendingChanges !== undefined) facts.push(`${f.pendingChanges} pending changes`)
      if (f.watch?.releasedAt !== undefined) facts.push(`released watch (ended ${f.watch.releasedAt}, dropped after ${f.watch.dropsAfter})`)
      else if (f.watch !== undefined) facts.push(f.active ? 'watch' : 'watch not released (still starting, or killed: resume it with --since and stop it, and it is dropped after the retention)')
      if (f.lost !== undefined) facts.push(`LOST: ${f.lost}`)
      lines.push(`    ${f.consumer}${f.entity !== undefined ? ` (${f.entity})` : ''}: ${facts.join(', ')}`)
    }
  }
  for (const consumer of section.droppedWatches ?? []) lines.push(`  dropped ${consumer}: its watch ended longer ago than the retention (SYNCLINE_WATCH_RETENTION)`)
  if (section.changeFeedsError !== undefined) lines.push(`  change feeds: ${section.changeFeedsError}`)
  return lines
}
