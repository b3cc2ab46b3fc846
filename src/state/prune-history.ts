/**
 * The SQL both state stores prune run history with (docs/state.md
 * "Retention"). One ranking of each sync's runs, newest first, decides which
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
 * beyond the newest `keepRuns` of its sync (ranked as `listRuns` orders,
 * `started_at` then `seq`) AND started before `olderThan`, never one still
 * `running`. `keepRuns` and `olderThan` are the placeholders given, in that
 * order (`?` for SQLite, `$1`/`$2` for PostgreSQL).
 */
export function prunableRunsQuery(runsTable: string, keepRunsParam: string, olderThanParam: string): string {
  return `SELECT run_id FROM (
      SELECT run_id, status, started_at,
             ROW_NUMBER() OVER (PARTITION BY sync_id ORDER BY started_at DESC, seq DESC) AS newest
      FROM ${runsTable}
    ) ranked
    WHERE newest > ${keepRunsParam} AND started_at < ${olderThanParam} AND status <> 'running'`
}
