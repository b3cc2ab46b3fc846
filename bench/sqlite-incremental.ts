/**
 * Incremental from SQLite against a full sync of the same rows (issue 6,
 * item 9): a table declared `updated_at datetime` holding ISO text with
 * milliseconds (not syncline's canonical spelling, so the cursor is
 * compared through its canonical form), 180,000 rows sharing two
 * timestamps as after a bulk `UPDATE … SET updated_at = now`, into
 * PostgreSQL with a transform (the row path), `batchSize: 2000`.
 *
 * Measured: the first incremental run against a full sync into an empty
 * table, then, after 90,000 rows changed, an incremental run against a full
 * sync again. An incremental run should never be slower than the full sync.
 * BENCH_INCREMENTAL_ROWS sets the table size (default 180,000); each time
 * is the median of BENCH_ROUNDS rounds from scratch (default 3).
 */
import Database from 'better-sqlite3'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { dropPg, pgUrl, printSection, psql, recreatePg, timeSyncline, type Measurement } from './harness.js'

const ROWS = Number(process.env.BENCH_INCREMENTAL_ROWS ?? 180_000)
const FIRST = ['2025-01-06T12:00:00.000Z', '2025-01-06T12:00:00.517Z']
const LATER = '2025-01-07T08:30:00.250Z'

function createSqliteItems(path: string): void {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, status TEXT NOT NULL, updated_at datetime NOT NULL)`)
  const insert = db.prepare('INSERT INTO items VALUES (?, ?, ?, ?, ?)')
  const statuses = ['new', 'paid', 'shipped', 'returned']
  db.transaction(() => {
    for (let g = 1; g <= ROWS; g++) insert.run(g, `item ${g}`, `user${g}@example.org`, statuses[g % 4], FIRST[g % 2])
  })()
  db.close()
}

/** Half the rows changed at one later instant. */
function changeHalf(path: string): void {
  const db = new Database(path)
  db.prepare(`UPDATE items SET name = name || ' (changed)', updated_at = ? WHERE id % 2 = 0`).run(LATER)
  db.close()
}

function sync(id: string, mode: 'full' | 'incremental', destination: string): string {
  return `  - id: ${id}
    source: { connection: src, entity: items }
    destination: { connection: ${destination}, entity: items, create: true }
    mode: ${mode}
    ${mode === 'incremental' ? 'cursor: updated_at' : ''}
    batchSize: 2000
    mapping: { fields: [ { destination: label, transform: "UPPER(status)" } ] }
`
}

/** One round from scratch: the four measurements, in order. */
function round(work: string, n: number, databases: [string, string]): Measurement[] {
  const [fullDb, incrementalDb] = databases
  const file = join(work, `incremental-${n}.db`)
  createSqliteItems(file)
  recreatePg(fullDb, incrementalDb)
  const config = join(work, `sqlite-incremental-${n}.yaml`)
  writeFileSync(
    config,
    `state: ./sqlite-incremental-state-${n}.db
connections:
  src: { url: "sqlite:${file}" }
  full_dst: { url: "${pgUrl(fullDb)}" }
  incremental_dst: { url: "${pgUrl(incrementalDb)}" }
syncs:
${sync('items_full', 'full', 'full_dst')}${sync('items_incremental', 'incremental', 'incremental_dst')}`,
  )
  // Each sync has its own destination, so the two of a pair are independent: every other round runs the
  // incremental one first, so that PostgreSQL's work after the first (checkpoints, autovacuum) weighs on both alike.
  const pair = (full: () => Measurement, incremental: () => Measurement): Measurement[] => {
    if (n % 2 === 0) return [full(), incremental()]
    const second = incremental()
    return [full(), second]
  }
  const changed = `${(ROWS / 2).toLocaleString('en')} rows changed`
  const measured = pair(
    () => timeSyncline('full sync (empty destination)', config, ['items_full']),
    () => timeSyncline('first incremental run (empty destination)', config, ['items_incremental']),
  )
  changeHalf(file)
  measured.push(
    ...pair(
      () => timeSyncline(`full sync (${changed})`, config, ['items_full']),
      () => timeSyncline(`incremental run (${changed})`, config, ['items_incremental']),
    ),
  )
  for (const database of databases) {
    const landed = psql(database, `SELECT count(*) FILTER (WHERE name LIKE '%(changed)') || ' ' || count(*) FROM items`).trim()
    if (landed !== `${ROWS / 2} ${ROWS}`) throw new Error(`${database} holds ${landed} (changed, all) rows, expected ${ROWS / 2} ${ROWS}`)
  }
  return measured
}

/** The median time of each measurement over the rounds (the machine is shared: one round is noisy). */
function medians(rounds: Measurement[][]): Measurement[] {
  return rounds[0]!.map((m, i) => {
    const all = rounds.map((r) => r[i]!)
    const seconds = all.map((r) => r.seconds).sort((a, b) => a - b)
    const rss = Math.max(...all.map((r) => r.peakRssMb ?? 0))
    return { ...m, seconds: seconds[Math.floor(seconds.length / 2)]!, peakRssMb: rss, detail: `${m.detail ?? ''} (median of ${all.length})` }
  })
}

/** Run the section in `work` (a temp directory). BENCH_ROUNDS sets the rounds (default 3). */
export function sqliteIncremental(work: string): void {
  const databases: [string, string] = ['syncline_bench_sqlite_full', 'syncline_bench_sqlite_incremental']
  try {
    const rounds = Array.from({ length: Number(process.env.BENCH_ROUNDS ?? 3) }, (_, n) => round(work, n, databases))
    const [fullFirst, first, fullChanged, changed] = medians(rounds) as [Measurement, Measurement, Measurement, Measurement]
    printSection(`SQLite → PostgreSQL incremental, ${ROWS.toLocaleString('en')} rows on two timestamps, transform, batchSize 2000`, [fullFirst, first], fullFirst, ROWS)
    printSection(`… after ${(ROWS / 2).toLocaleString('en')} rows changed`, [fullChanged, changed], fullChanged, ROWS)
  } finally {
    dropPg(...databases)
  }
}
