/**
 * `syncline prune [--dry-run]`: drop run history and record errors beyond
 * the plan's `history:` retention (default: runs older than 30 days AND
 * beyond the newest 1,000 of their sync). Never a run still going, never a
 * sync's newest run. Prints what it removed (or would); exit 0.
 */
import { withManager } from './context.js'
import { print, printJson, type GlobalOptions } from './output.js'

/** Prune, or with `--dry-run` only count what would go. */
export async function pruneCommand(opts: GlobalOptions & { dryRun?: boolean }): Promise<number> {
  return withManager(opts, async (manager) => {
    const dryRun = opts.dryRun === true
    const { keepDays } = manager.plan.history
    const result = await manager.pruneHistory({ dryRun })
    if (opts.json) {
      printJson({ dryRun, keepDays, keepRuns: result.keepRuns, olderThan: result.olderThan, runs: result.runs, recordErrors: result.recordErrors })
      return 0
    }
    const verb = dryRun ? 'would remove' : 'removed'
    const what = `${result.runs} run${result.runs === 1 ? '' : 's'} and ${result.recordErrors} record error${result.recordErrors === 1 ? '' : 's'}`
    print(`${dryRun ? 'Dry run: ' : ''}${verb} ${what} (runs started before ${result.olderThan} and beyond the newest ${result.keepRuns} of their sync).`)
    return 0
  })
}
