/**
 * History retention: `pruneHistory` on a state store holding BENCH_PRUNE_RUNS
 * runs (default 1,000,000) of 20 syncs spread over 35 days with
 * one record error per 10 runs, on SQLite and PostgreSQL. Times the first
 * prune (most of the history goes), then the hourly one the daemon makes
 * (an hour's worth goes), and a dry run.
 */
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { openPostgresStateStore } from '../src/state/postgres-state-store.js'
import { openSqliteStateStore } from '../src/state/sqlite-state-store.js'
import type { PruneHistoryOptions, StateStore } from '../src/state/state-store.js'
import { dropPg, pgUrl, psql, recreatePg } from './harness.js'

const RUNS = Number(process.env.BENCH_PRUNE_RUNS ?? 1_000_000)
const SYNCS = 20
const NOW = Date.parse('2026-12-01T00:00:00.000Z')
const KEEP = { keepDays: 30, keepRuns: 1000 }
/** Seconds between two runs of one sync, so each sync's history spans 35 days (one a minute at 1,000,000 runs). */
const SPACING_S = (35 * 86_400) / Math.ceil(RUNS / SYNCS)

/**
 * The SELECT generating  run `i` = 0…RUNS-1: sync `i % SYNCS`,
 * SPACING_S seconds apart per sync, i = 0 the newest. `%DRY%` and `%STARTED%` are the dialect's
 * false and start-time expressions.
 */
function runSelect(series: string, n: string): string {
  return `SELECT 'r' || ${n}, 's' || (${n} % ${SYNCS}), 'full', 'succeeded', %DRY%, %STARTED%, 0, 1, 1, 0, 0, 0, 0, 0 FROM ${series}`
}

function fillSqlite(path: string): void {
  const db = new Database(path)
  try {
    const sql = runSelect('n', 'i')
      .replace('%DRY%', '0')
      .replace('%STARTED%', `strftime('%Y-%m-%dT%H:%M:%fZ', ${NOW / 1000} - (i / ${SYNCS}) * ${SPACING_S}, 'unixepoch')`)
    db.exec(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${RUNS - 1})
      INSERT INTO runs (run_id, sync_id, mode, status, dry_run, started_at, duration_ms, read, created, updated, deleted, unchanged, failed, conflicts) ${sql}`)
    db.exec(`INSERT INTO record_errors (run_id, sync_id, operation, record_id, record, reason, at)
      SELECT run_id, sync_id, 'create', '1', '{"id":1}', 'too long', started_at FROM runs WHERE seq % 10 = 0`)
  } finally {
    db.close()
  }
}

function fillPostgres(database: string, schema: string): void {
  const sql = runSelect('generate_series(0, ' + (RUNS - 1) + ') AS i', 'i')
    .replace('%DRY%', 'false')
    .replace('%STARTED%', `to_char(to_timestamp(${NOW / 1000} - (i / ${SYNCS}) * ${SPACING_S}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`)
  psql(database, `INSERT INTO ${schema}.runs (run_id, sync_id, mode, status, dry_run, started_at, duration_ms, read, created, updated, deleted, unchanged, failed, conflicts) ${sql};
    INSERT INTO ${schema}.record_errors (run_id, sync_id, operation, record_id, record, reason, at)
      SELECT run_id, sync_id, 'create', '1', '{"id":1}', 'too long', started_at FROM ${schema}.runs WHERE seq % 10 = 0;
    ANALYZE ${schema}.runs; ANALYZE ${schema}.record_errors;`)
}

async function timed(label: string, store: StateStore, opts: PruneHistoryOptions): Promise<void> {
  const start = process.hrtime.bigint()
  const result = await store.pruneHistory(opts)
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  console.log(`  ${label.padEnd(44)} ${ms.toFixed(0).padStart(7)} ms  runs ${result.runs.toLocaleString('en')}, record errors ${result.recordErrors.toLocaleString('en')}`)
}

async function measure(label: string, store: StateStore): Promise<void> {
  console.log(` ${label}`)
  const olderThan = (now: number) => new Date(now - KEEP.keepDays * 86_400_000).toISOString()
  await timed('dry run (counts only)', store, { olderThan: olderThan(NOW), keepRuns: KEEP.keepRuns, dryRun: true })
  await timed('first prune (most of the history)', store, { olderThan: olderThan(NOW), keepRuns: KEEP.keepRuns })
  await timed('an hour later (the daemon\'s hourly prune)', store, { olderThan: olderThan(NOW + 3_600_000), keepRuns: KEEP.keepRuns })
}

/** The prune section of `npm run bench`. */
export async function pruneHistory(work: string): Promise<void> {
  console.log(`\nHistory retention: pruneHistory on ${RUNS.toLocaleString('en')} runs (${SYNCS} syncs over 35 days), keepDays 30, keepRuns 1,000`)
  const path = join(work, 'prune-state.db')
  await openSqliteStateStore(path).close() // creates the tables
  fillSqlite(path)
  const sqlite = openSqliteStateStore(path)
  try {
    await measure('SQLite', sqlite)
  } finally {
    await sqlite.close()
  }
  recreatePg('bench_prune')
  try {
    const pg = await openPostgresStateStore(pgUrl('bench_prune'))
    try {
      fillPostgres('bench_prune', 'syncline')
      await measure('PostgreSQL', pg)
    } finally {
      await pg.close()
    }
  } finally {
    dropPg('bench_prune')
  }
}
