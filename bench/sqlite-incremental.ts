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
 * BENCH_INCREMENTAL_ROWS sets the table size (default 180,000).
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

/** Run the section in `work` (a temp directory). */
export function sqliteIncremental(work: string): void {
  const [fullDb, incrementalDb] = ['syncline_bench_sqlite_full', 'syncline_bench_sqlite_incremental']
  const file = join(work, 'incremental.db')
  try {
    createSqliteItems(file)
    recreatePg(fullDb, incrementalDb)
    const config = join(work, 'sqlite-incremental.yaml')
    writeFileSync(
      config,
      `state: ./sqlite-incremental-state.db
connections:
  src: { url: "sqlite:${file}" }
  full_dst: { url: "${pgUrl(fullDb)}" }
  incremental_dst: { url: "${pgUrl(incrementalDb)}" }
syncs:
${sync('items_full', 'full', 'full_dst')}${sync('items_incremental', 'incremental', 'incremental_dst')}`,
    )
    const first: Measurement[] = [
      timeSyncline('full sync (empty destination)', config, ['items_full']),
      timeSyncline('first incremental run (empty destination)', config, ['items_incremental']),
    ]
    changeHalf(file)
    const changed: Measurement[] = [
      timeSyncline(`full sync (${(ROWS / 2).toLocaleString('en')} rows changed)`, config, ['items_full']),
      timeSyncline(`incremental run (${(ROWS / 2).toLocaleString('en')} rows changed)`, config, ['items_incremental']),
    ]
    for (const database of [fullDb, incrementalDb]) {
      const landed = psql(database, `SELECT count(*) FILTER (WHERE name LIKE '%(changed)') || ' ' || count(*) FROM items`).trim()
      if (landed !== `${ROWS / 2} ${ROWS}`) throw new Error(`${database} holds ${landed} (changed, all) rows, expected ${ROWS / 2} ${ROWS}`)
    }
    printSection(`SQLite → PostgreSQL incremental, ${ROWS.toLocaleString('en')} rows on two timestamps, transform, batchSize 2000`, first, first[0], ROWS)
    printSection(`… after ${(ROWS / 2).toLocaleString('en')} rows changed`, changed, changed[0], ROWS)
  } finally {
    dropPg(fullDb, incrementalDb)
  }
}
