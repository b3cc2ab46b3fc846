/**
 * The SQL both state stores prune run history with (docs/state.md
 * "Retention"). A cutoff per sync (its run `keepRuns` places down) decides which
 * runs go; record errors go with their run. The statements run inside the
 * database, so memory stays flat however much history there is.
 */
import { SynclineError } from '../errors.js'
import type { PruneHistoryOptions } from './state-store.js'

/** Checked, normalised options: an ISO instant comparable with `started_at` as text, and at least one run kept. */
export interface PruneBounds {
  olderThan: string
  keepRuns: number
}

/**
 * Check the options once for both stores. `olderThan` becomes the same ISO
 * form (`…T10:00:00.000Z`) the engine writes `started_at` in, since the
 * columns compare as text; `keepRuns` below 1 counts as 1 so a sync's newest
 * run always stays (`syncline status` shows it).
 */
export function pruneBounds(opts: PruneHistoryOptions): PruneBounds {
  const time = Date.parse(opts.olderThan)
  if (Number.isNaN(time)) {
    throw new SynclineError('INTERNAL', 'internal', `pruneHistory needs olderThan as an ISO time such as 2026-11-01T00:00:00Z, not '${opts.olderThan}'.`)
  }
  if (!Number.isFinite(opts.keepRuns)) {
    throw new SynclineError('INTERNAL', 'internal', `pruneHistory needs keepRuns as a whole number, not ${String(opts.keepRuns)}.`)
  }
  return { olderThan: new Date(time).toISOString(), keepRuns: Math.max(1, Math.floor(opts.keepRuns)) }
}

/**
 * A query selecting the `run_id` of every run to prune from `runsTable`:
 * beyond the newest `keepRuns` of its sync (in the order `listRuns` gives,
 * `started_at` then `seq`, newest first) AND started before `olderThan`,
 * never one still `running`. The placeholders are `keepRuns - 1` (the
 * offset of the newest run kept last) and `olderThan`, in that order
 * (`@offset`/`@olderThan` for SQLite, `$1`/`$2` for PostgreSQL); the offset
 * appears twice.
 *
 * Why not `ROW_NUMBER() OVER (PARTITION BY sync_id …)`: that ranks every run
 * on every prune, ~2 s on 1,000,000 runs, with SQLite's write lock held. Here
 * each sync's cutoff is one lookup in `runs_by_sync (sync_id, started_at)`
 * (the run `keepRuns` places down), and only runs older than both bounds are
 * read (npm run bench, prune).
 */
export function prunableRunsQuery(runsTable: string, offsetParam: string, olderThanParam: string, dialect: 'sqlite' | 'postgres'): string {
  // Keeps the planners from folding the per-sync cutoffs into the join, which
  // re-ran the two lookups for every run (150 s on 1,000,000 runs in PostgreSQL).
  const fence = dialect === 'postgres' ? 'OFFSET 0' : 'LIMIT -1 OFFSET 0'
  const kept = (column: string) =>
    `(SELECT k.${column} FROM ${runsTable} k WHERE k.sync_id = s.sync_id ORDER BY k.started_at DESC, k.seq DESC LIMIT 1 OFFSET ${offsetParam})`
  return `SELECT r.run_id FROM ${runsTable} r
    JOIN (SELECT s.sync_id, ${kept('started_at')} AS started_at, ${kept('seq')} AS seq
          FROM (SELECT DISTINCT sync_id FROM ${runsTable}) s ${fence}) cutoff ON cutoff.sync_id = r.sync_id
    WHERE (r.started_at < cutoff.started_at OR (r.started_at = cutoff.started_at AND r.seq < cutoff.seq))
      AND r.started_at < ${olderThanParam} AND r.status <> 'running'`
}
