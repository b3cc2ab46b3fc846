/**
 * `npm run bench`: syncline against the tool a user would pick instead, in
 * the same run, on the same machine, printed as ratios. Never a timed test.
 *
 * Sections (BENCH_ONLY=postgres,sqlite,mariadb,sqlite-incremental,two-way to pick): PostgreSQL →
 * PostgreSQL against a binary COPY pipe and pgloader; SQLite → PostgreSQL against pgloader
 * and `sqlite3 -csv | COPY`; MariaDB → PostgreSQL against a `mariadb -B | COPY`
 * pipe; sqlite-incremental: incremental runs from SQLite against a full sync
 * of the same rows (its own size, see the section); scheduler: the daemon's
 * CPU with 1,000 scheduled syncs; two-way: two-way
 * incremental with 1% changed on each side against one-way incremental; prune: history
 * retention on 1,000,000 runs (BENCH_PRUNE_RUNS); feed: 200 WebSocket clients of
 * `syncline serve` on one PostgreSQL entity at 1,000 changes/s, commit → client
 * latency p50/p99 (BENCH_FEED_CLIENTS, BENCH_FEED_RATE, BENCH_FEED_SECONDS; feed-fanout.ts). BENCH_ROWS sets the table
 * size (default 1,000,000). The pipe a section's ratios divide by runs three
 * times and counts by its median (harness.ts, `timeBaseline`).
 *
 * realtime: change capture PostgreSQL → PostgreSQL, native logical
 * replication against a `mode: realtime` sync run as `syncline run ID`:
 * single-change latency (p50, p99 over BENCH_REALTIME_CHANGES, default
 * 1,000: send of the UPDATE until a NOTIFY from a trigger on the destination
 * row, delivered at its commit), a sustained BENCH_REALTIME_RATE changes/s
 * (default 10,000, or what the writer manages) for BENCH_REALTIME_SECONDS
 * (default 60) with lag at start/middle/end, apply rate, catch-up time and
 * CPU per 1,000 changes, a BENCH_REALTIME_BACKLOG (default 100,000) drained
 * after a restart, and the syncline process's peak RSS (BENCH_REALTIME_ROWS
 * rows, default 10,000). Details in realtime-postgres.ts and realtime-load.ts.
 * Short run while developing: BENCH_ONLY=realtime BENCH_REALTIME_SECONDS=10
 * BENCH_REALTIME_CHANGES=200 BENCH_REALTIME_BACKLOG=20000 npm run bench.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROWS } from './harness.js'
import { postgresToPostgres } from './postgres-to-postgres.js'
import { sqliteToPostgres } from './sqlite-to-postgres.js'
import { mariadbToPostgres } from './mariadb-to-postgres.js'
import { sqliteIncremental } from './sqlite-incremental.js'
import { realtimePostgres } from './realtime-postgres.js'
import { schedulerIdle } from './scheduler-idle.js'
import { twoWay } from './two-way.js'
import { pruneHistory } from './prune-history.js'
import { feedFanout } from './feed-fanout.js'

const SECTIONS: Record<string, (work: string) => void | Promise<void>> = {
  postgres: postgresToPostgres,
  sqlite: sqliteToPostgres,
  mariadb: mariadbToPostgres,
  'sqlite-incremental': sqliteIncremental,
  realtime: realtimePostgres,
  scheduler: schedulerIdle,
  'two-way': twoWay,
  prune: pruneHistory,
  feed: feedFanout,
}

const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim())
const work = mkdtempSync(join(tmpdir(), 'syncline-bench-'))
try {
  console.log(`syncline benchmarks, ${ROWS.toLocaleString('en')} rows per table`)
  for (const [name, section] of Object.entries(SECTIONS)) {
    if (!only || only.includes(name)) await section(work)
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
