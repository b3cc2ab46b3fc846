/** `syncline history [SYNC]`: run history, newest first, with rejected records. */
import { boundedRecord, boundedText, formatBytes, isExcerpt } from '../state/record-excerpt.js'
import type { RecordErrorEntry } from '../state/state-store.js'
import { withManager } from './context.js'
import { jsonReplacer, print, printJson, type GlobalOptions } from './output.js'

/** Rejected records listed (newest first); the rest are counted. */
const RECORD_ERRORS_SHOWN = 20
/** Characters of one printed line about a rejected record. */
const LINE_CHARACTERS = 400

/** Print recent runs; with a sync id, also the records its runs rejected. */
export async function historyCommand(syncId: string | undefined, opts: GlobalOptions & { limit?: number }): Promise<number> {
  return withManager(opts, async (manager) => {
    // A sync removed from the plan keeps its history; only an id nobody knows is a mistake.
    if (syncId !== undefined && !manager.plan.syncs.some((s) => s.id === syncId) && !(await manager.status()).some((s) => s.syncId === syncId)) {
      manager.getPlan(syncId)
    }
    const limit = opts.limit ?? 20
    const runs = await manager.history(syncId, limit)
    const errors = syncId !== undefined ? await manager.recordErrors({ syncId, limit: RECORD_ERRORS_SHOWN }) : []
    const notShown = errors.length < RECORD_ERRORS_SHOWN ? 0 : (await manager.recordErrorCount({ syncId })) - errors.length
    if (opts.json) {
      for (const run of runs) printJson({ kind: 'run', ...run })
      // Rows written before records were bounded are bounded here too.
      for (const e of errors) printJson({ kind: 'recordError', ...e, record: boundedRecord(e.record), reason: boundedText(e.reason) })
      if (notShown > 0) printJson({ kind: 'recordErrorsNotShown', count: notShown })
      return 0
    }
    if (runs.length === 0) print(syncId ? `${syncId} has not run yet.` : 'No runs yet.')
    for (const r of runs) {
      const counts = `read ${r.read}, created ${r.created}, updated ${r.updated}, deleted ${r.deleted}, unchanged ${r.unchanged}, failed ${r.failed}${r.conflicts > 0 ? `, conflicts ${r.conflicts}` : ''}`
      const attempt = (r.attempt ?? 1) > 1 ? ` (attempt ${r.attempt})` : ''
      print(`${r.startedAt}  ${r.syncId}  ${r.status}${attempt}${r.dryRun ? ' (dry run)' : ''}  ${r.mode}  ${counts}  ${r.durationMs ?? '-'} ms`)
      if (r.error) print(`    ${boundedText(r.error.split('\n')[0]!, LINE_CHARACTERS)}`)
      for (const note of r.notes ?? []) print(`    note: ${boundedText(note, LINE_CHARACTERS)}`)
    }
    if (errors.length > 0) {
      print(`\nRejected records (newest first):`)
      for (const e of errors) print(describeRecordError(e))
      if (notShown > 0) print(`  … and ${notShown} more (syncline history ${syncId} --json lists the newest ${RECORD_ERRORS_SHOWN} with their values)`)
    }
    return 0
  })
}

/** Two bounded lines: when, what and why; then the record as JSON, long values as their start and size. */
function describeRecordError(e: RecordErrorEntry): string {
  const what = `  ${e.at}  ${e.operation} ${e.recordId}: ${e.reason.split('\n')[0]}`
  const shown = Object.fromEntries(
    Object.entries(boundedRecord(e.record)).map(([name, value]) => [name, isExcerpt(value) ? `${value.excerpt}… (${formatBytes(value.bytes)})` : value]),
  )
  return `${boundedText(what, LINE_CHARACTERS)}\n    ${boundedText(JSON.stringify(shown, jsonReplacer), LINE_CHARACTERS)}`
}
