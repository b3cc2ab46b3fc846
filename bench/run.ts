/**
 * `npm run bench`: syncline against the tool a user would pick instead, in
 * the same run, on the same machine, printed as ratios. Never a timed test.
 *
 * Sections (BENCH_ONLY=postgres,sqlite,mariadb,sqlite-incremental,two-way to pick): PostgreSQL →
 * PostgreSQL against a binary COPY pipe; SQLite → PostgreSQL against pgloader
 * and `sqlite3 -csv | COPY`; MariaDB → PostgreSQL against a `mariadb -B | COPY`
 * pipe; sqlite-incremental: incremental runs from SQLite against a full sync
 * of the same rows (its own size, see the section); two-way: two-way
 * incremental with 1% changed on each side against one-way incremental. BENCH_ROWS sets the table
 * size (default 1,000,000).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROWS } from './harness.js'
import { postgresToPostgres } from './postgres-to-postgres.js'
import { sqliteToPostgres } from './sqlite-to-postgres.js'
import { mariadbToPostgres } from './mariadb-to-postgres.js'
import { sqliteIncremental } from './sqlite-incremental.js'
import { twoWay } from './two-way.js'

const SECTIONS: Record<string, (work: string) => void> = {
  postgres: postgresToPostgres,
  sqlite: sqliteToPostgres,
  mariadb: mariadbToPostgres,
  'sqlite-incremental': sqliteIncremental,
  'two-way': twoWay,
}

const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim())
const work = mkdtempSync(join(tmpdir(), 'syncline-bench-'))
try {
  console.log(`syncline benchmarks, ${ROWS.toLocaleString('en')} rows per table`)
  for (const [name, section] of Object.entries(SECTIONS)) {
    if (!only || only.includes(name)) section(work)
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
