/**
 * SQLite → PostgreSQL (issue 3): pgloader, the tool a user would pick, and
 * a `sqlite3 -csv | COPY` pipe, against syncline's full sync.
 */
import Database from 'better-sqlite3'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ITEMS_DDL, ROWS, dropPg, pgUrl, printSection, psql, recreatePg, timeBaseline, timeSyncline, type Measurement } from './harness.js'
import { timePgloader } from './pgloader.js'

function createSqliteItems(path: string): void {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, amount DECIMAL(12,2) NOT NULL, status TEXT NOT NULL, updated_at TIMESTAMP NOT NULL)`)
  const insert = db.prepare('INSERT INTO items VALUES (?, ?, ?, ?, ?, ?)')
  const statuses = ['new', 'paid', 'shipped', 'returned']
  const now = Date.now()
  db.transaction(() => {
    for (let g = 1; g <= ROWS; g++) {
      insert.run(g, `item ${g}`, `user${g}@example.org`, ((g * 7919) % 1000000) / 100, statuses[g % 4], new Date(now - (g % 86400) * 1000).toISOString())
    }
  })()
  db.close()
}

/** Run the section in `work` (a temp directory). */
export function sqliteToPostgres(work: string): void {
  const [viaPgloader, viaCsv, dst] = ['syncline_bench_pgloader', 'syncline_bench_csvpipe', 'syncline_bench_from_sqlite']
  const file = join(work, 'items.db')
  try {
    createSqliteItems(file)
    recreatePg(viaPgloader, viaCsv, dst)
    psql(viaCsv, ITEMS_DDL)
    const results: Measurement[] = []
    results.push(timeBaseline('sqlite3 -csv | COPY', `sqlite3 -csv '${file}' "select * from items" | psql '${pgUrl(viaCsv)}' -c "copy items from stdin (format csv)"`, () => psql(viaCsv, 'TRUNCATE items')))
    const pgloader = timePgloader('pgloader', `sqlite://${file}`, pgUrl(viaPgloader))
    if (pgloader) results.push(pgloader)
    // As in the PostgreSQL section: the baselines' autovacuum work done before the first copy is timed.
    psql(viaCsv, 'VACUUM ANALYZE')
    psql(viaPgloader, 'VACUUM ANALYZE')
    const config = join(work, 'sqlite.yaml')
    writeFileSync(
      config,
      `state: ./sqlite-state.db
connections:
  src: { url: "sqlite:${file}" }
  dst: { url: "${pgUrl(dst)}" }
syncs:
  - { id: items, source: { connection: src, entity: items }, destination: { connection: dst, entity: items, create: true }, mode: full, batchSize: 10000 }
`,
    )
    results.push(timeSyncline('syncline full sync (empty destination)', config))
    results.push(timeSyncline('syncline idle re-sync (full compare)', config))
    const landed = psql(dst, 'SELECT count(*) FROM items').trim()
    if (Number(landed) !== ROWS) throw new Error(`destination has ${landed} rows, expected ${ROWS}`)
    printSection('SQLite → PostgreSQL', results)
  } finally {
    dropPg(viaPgloader, viaCsv, dst)
  }
}
