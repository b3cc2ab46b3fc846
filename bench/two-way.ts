/**
 * Two-way incremental sync (issue 9): PostgreSQL <-> PostgreSQL, ROWS rows
 * (default 1,000,000), 1% of rows changed on each side, against a one-way
 * incremental sync of the same 2% of changes (both with the key pass of
 * `deletes: propagate`). Target: under 2x the one-way time, RSS under 200 MB.
 * Also prints the first two-way run (which builds the base for every key)
 * and the base's bytes per key in the SQLite state file.
 */
import Database from 'better-sqlite3'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { dropPg, ITEMS_DDL, pgUrl, printSection, psql, recreatePg, ROWS, timeSyncline } from './harness.js'

const DATABASES = ['syncline_bench_2w_a', 'syncline_bench_2w_b', 'syncline_bench_1w_src', 'syncline_bench_1w_dst'] as const

function fill(database: string): void {
  psql(database, ITEMS_DDL)
  psql(
    database,
    `INSERT INTO items SELECT g, 'item ' || g, 'user' || g || '@example.org', (g % 1000) / 10.0, (ARRAY['new','paid','shipped'])[1 + g % 3], '2026-01-01T00:00:00Z'::timestamptz + g * interval '1 millisecond' FROM generate_series(1, ${ROWS}) g`,
  )
  psql(database, 'VACUUM ANALYZE items')
}

/** 1% of the rows, chosen by `offset`, changed now. */
function change(database: string, offset: number): void {
  psql(database, `UPDATE items SET name = name || ' *', updated_at = now() WHERE id % 100 = ${offset}`)
}

function sync(id: string, source: string, destination: string, twoWay: boolean): string {
  return `  - id: ${id}
    source: { connection: ${source}, entity: items }
    destination: { connection: ${destination}, entity: items${twoWay ? '' : ', create: true'} }
    mode: incremental
    cursor: updated_at
    lookback: 0s
    batchSize: 5000
${twoWay ? '    direction: two-way\n' : ''}`
}

/** Run the section in `work` (a temp directory). */
export function twoWay(work: string): void {
  try {
    recreatePg(...DATABASES)
    for (const d of [DATABASES[0], DATABASES[1], DATABASES[2]]) fill(d)
    const config = join(work, 'two-way.yaml')
    const state = join(work, 'two-way-state.db')
    writeFileSync(
      config,
      `state: ${state}
connections:
${DATABASES.map((d) => `  ${d}: { url: "${pgUrl(d)}" }`).join('\n')}
syncs:
${sync('two_way', DATABASES[0], DATABASES[1], true)}${sync('one_way', DATABASES[2], DATABASES[3], false)}`,
    )
    const first = timeSyncline('first two-way run (both sides equal: builds the base)', config, ['two_way'])
    timeSyncline('first one-way run', config, ['one_way'])
    change(DATABASES[0], 0)
    change(DATABASES[1], 50)
    change(DATABASES[2], 0)
    change(DATABASES[2], 50)
    const oneWay = timeSyncline('one-way incremental, 2% changed at the source', config, ['one_way'])
    const two = timeSyncline('two-way incremental, 1% changed on each side', config, ['two_way'])
    const idle = timeSyncline('two-way idle run', config, ['two_way'])
    printSection(`Two-way incremental PostgreSQL <-> PostgreSQL`, [oneWay, two, idle, first], oneWay)
    const db = new Database(state, { readonly: true })
    const size = db.prepare(`SELECT count(*) AS keys, sum(length(key) + length(hash) + length(sync_id)) AS bytes FROM two_way_base`).get() as { keys: number; bytes: number }
    const pages = db.prepare(`SELECT sum(pgsize) AS bytes FROM dbstat WHERE name IN ('two_way_base', 'sqlite_autoindex_two_way_base_1')`).get() as { bytes: number | null } | undefined
    db.close()
    console.log(`\nbase: ${size.keys.toLocaleString('en')} keys, ${(size.bytes / size.keys).toFixed(1)} bytes of columns per key${pages?.bytes ? `, ${(pages.bytes / size.keys).toFixed(1)} bytes on disk per key (SQLite pages)` : ''}`)
  } finally {
    dropPg(...DATABASES)
  }
}
