/**
 * PostgreSQL → PostgreSQL (issue 2): a binary COPY pipe, the physical limit
 * of a full copy, and pgloader, against syncline's full sync into an empty table, an idle
 * re-sync, and re-syncs after 1% of rows changed (full and incremental).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ITEMS_DDL, ROWS, dropPg, pgUrl, printSection, psql, recreatePg, timeBaseline, timeSyncline, type Measurement } from './harness.js'
import { timePgloader } from './pgloader.js'

/** Run the section in `work` (a temp directory). */
export function postgresToPostgres(work: string): void {
  const [src, copy, dst] = ['syncline_bench_src', 'syncline_bench_copy', 'syncline_bench_dst']
  const viaPgloader = 'syncline_bench_pgloader_pg'
  try {
    recreatePg(src, copy, dst, viaPgloader)
    psql(src, ITEMS_DDL)
    psql(
      src,
      `INSERT INTO items SELECT g, 'item ' || g, 'user' || g || '@example.org', round((random() * 10000)::numeric, 2),
         (ARRAY['new','paid','shipped','returned'])[1 + g % 4], now() - (g % 86400) * interval '1 second'
       FROM generate_series(1, ${ROWS}) g`,
    )
    psql(src, 'VACUUM ANALYZE items')
    psql(copy, ITEMS_DDL)

    const results: Measurement[] = []
    results.push(
      timeBaseline('binary COPY pipe', `psql '${pgUrl(src)}' -c "copy items to stdout (format binary)" | psql '${pgUrl(copy)}' -c "copy items from stdin (format binary)"`, () => psql(copy, 'TRUNCATE items')),
    )
    const pgloader = timePgloader('pgloader', pgUrl(src), pgUrl(viaPgloader))
    if (pgloader) results.push(pgloader)
    // The baselines' loads leave autovacuum work behind: done now, not by a worker beside the first copy timed next.
    psql(copy, 'VACUUM ANALYZE')
    psql(viaPgloader, 'VACUUM ANALYZE')
    const config = join(work, 'pg.yaml')
    writeFileSync(
      config,
      `state: ./pg-state.db
connections:
  src: { url: "${pgUrl(src)}" }
  dst: { url: "${pgUrl(dst)}" }
syncs:
  - { id: items, source: { connection: src, entity: items }, destination: { connection: dst, entity: items, create: true }, mode: full, batchSize: 10000 }
  - id: items_incremental
    source: { connection: src, entity: items }
    destination: { connection: dst, entity: items_incremental, create: true }
    mode: incremental
    cursor: updated_at
    lookback: 0s
    batchSize: 10000
${rowCompareSync()}`,
    )
    results.push(timeSyncline('syncline full sync (empty destination)', config, ['items']))
    results.push(timeSyncline('syncline idle re-sync (full compare)', config, ['items']))
    results.push(...rowCompareIdle(config))
    results.push(timeSyncline('syncline incremental first run', config, ['items_incremental']))
    // The three fills left autovacuum work on the destination: done now, so no autovacuum worker shares
    // the 2 cores with the re-syncs timed next (a scheduled re-sync meets a settled destination).
    psql(dst, 'VACUUM ANALYZE')
    psql(src, `UPDATE items SET amount = amount + 1, updated_at = now() WHERE id % 100 = 0`)
    results.push(timeSyncline('syncline re-sync after 1% changed (full)', config, ['items']))
    results.push(timeSyncline('syncline re-sync after 1% changed (compare: rows)', config, ['items_rows']))
    results.push(timeSyncline('syncline re-sync after 1% changed (incremental)', config, ['items_incremental']))
    const landed = psql(dst, 'SELECT count(*) FROM items').trim()
    if (Number(landed) !== ROWS) throw new Error(`destination has ${landed} rows, expected ${ROWS}`)
    printSection('PostgreSQL → PostgreSQL', results)
  } finally {
    dropPg(src, copy, dst, viaPgloader)
  }
}

/**
 * The `items` sync compares by key-range checksums (compare: auto, issue 11);
 * `items_rows` is the same sync compared row by row, to show what the
 * descent saves.
 */
function rowCompareSync(): string {
  return `  - { id: items_rows, source: { connection: src, entity: items }, destination: { connection: dst, entity: items_rows, create: true }, mode: full, compare: rows, batchSize: 10000 }\n`
}

/** Fill `items_rows` (not timed), then time its idle re-sync row by row. */
function rowCompareIdle(config: string): Measurement[] {
  timeSyncline('fill items_rows', config, ['items_rows'])
  return [timeSyncline('syncline idle re-sync (compare: rows)', config, ['items_rows'])]
}
