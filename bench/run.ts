/**
 * `npm run bench`: syncline against the tool a user would pick instead, in
 * the same run, on the same machine. Never a timed test.
 *
 * PostgreSQL → PostgreSQL, 1,000,000 rows of
 *   items(id bigint pk, name, email, amount numeric(12,2), status, updated_at timestamptz)
 * Baseline: a binary COPY pipe (psql … copy to stdout | psql … copy from stdin),
 * the physical limit for a full copy. Then syncline: full sync into an empty
 * table, an idle re-sync, a re-sync after 1% of rows changed (full and
 * incremental). Each is printed as a ratio to the COPY pipe with the peak RSS
 * of the syncline process.
 *
 * Environment: BENCH_ROWS (default 1000000), SYNCLINE_TEST_PG_URL (server).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000)
const SERVER = new URL(process.env.SYNCLINE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres')
const CLI = resolve('dist/cli/index.js')

function dbUrl(name: string): string {
  const url = new URL(SERVER)
  url.pathname = `/${name}`
  return url.toString()
}

function psql(database: string, sql: string): string {
  return execFileSync('psql', [dbUrl(database), '-v', 'ON_ERROR_STOP=1', '-Atqc', sql], { encoding: 'utf8' })
}

function recreate(database: string): void {
  psql('postgres', `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
  psql('postgres', `CREATE DATABASE ${database}`)
}

const ITEMS_DDL = `CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL, amount numeric(12,2) NOT NULL, status text NOT NULL, updated_at timestamptz NOT NULL)`

interface Measurement {
  name: string
  seconds: number
  peakRssMb?: number
  detail?: string
}

function timeShell(name: string, command: string): Measurement {
  const start = process.hrtime.bigint()
  execFileSync('bash', ['-o', 'pipefail', '-c', command], { stdio: ['ignore', 'ignore', 'inherit'] })
  return { name, seconds: Number(process.hrtime.bigint() - start) / 1e9 }
}

/** Run `syncline run` as a user would, timed from outside, with its peak RSS. */
function timeSyncline(name: string, config: string, extra: string[] = []): Measurement {
  const start = process.hrtime.bigint()
  const child = spawnSync('/usr/bin/time', ['-f', 'RSS_KB=%M', process.execPath, CLI, 'run', '--json', '--quiet', '--config', config, ...extra], { encoding: 'utf8' })
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  if (child.status !== 0) throw new Error(`syncline run failed (${child.status}):\n${child.stdout}\n${child.stderr}`)
  const rss = /RSS_KB=(\d+)/.exec(child.stderr)
  const results = child.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number | string>)
  const detail = results.map((r) => `${r.id}: ${r.created} created, ${r.updated} updated, ${r.deleted} deleted, ${r.unchanged} unchanged`).join('; ')
  return { name, seconds, peakRssMb: rss ? Number(rss[1]) / 1024 : undefined, detail }
}

function main(): void {
  const work = mkdtempSync(join(tmpdir(), 'syncline-bench-'))
  try {
    console.log(`Preparing ${ROWS.toLocaleString('en')} rows in PostgreSQL (${SERVER.host})…`)
    recreate('syncline_bench_src')
    recreate('syncline_bench_copy')
    recreate('syncline_bench_dst')
    psql('syncline_bench_src', ITEMS_DDL)
    psql(
      'syncline_bench_src',
      `INSERT INTO items SELECT g, 'item ' || g, 'user' || g || '@example.org', round((random() * 10000)::numeric, 2),
         (ARRAY['new','paid','shipped','returned'])[1 + g % 4], now() - (g % 86400) * interval '1 second'
       FROM generate_series(1, ${ROWS}) g`,
    )
    psql('syncline_bench_src', 'VACUUM ANALYZE items')
    psql('syncline_bench_copy', ITEMS_DDL)

    const results: Measurement[] = []
    const copy = timeShell(
      'binary COPY pipe (baseline)',
      `psql '${dbUrl('syncline_bench_src')}' -c "copy items to stdout (format binary)" | psql '${dbUrl('syncline_bench_copy')}' -c "copy items from stdin (format binary)"`,
    )
    results.push(copy)

    const config = join(work, 'syncline.yaml')
    writeFileSync(
      config,
      `state: ./state.db
connections:
  src: { url: "${dbUrl('syncline_bench_src')}" }
  dst: { url: "${dbUrl('syncline_bench_dst')}" }
syncs:
  - id: items
    source: { connection: src, entity: items }
    destination: { connection: dst, entity: items, create: true }
    mode: full
    batchSize: 10000
  - id: items_incremental
    source: { connection: src, entity: items }
    destination: { connection: dst, entity: items_incremental, create: true }
    mode: incremental
    cursor: updated_at
    lookback: 0s
    batchSize: 10000
`,
    )
    results.push(timeSyncline('syncline full sync (empty destination)', config, ['items']))
    results.push(timeSyncline('syncline idle re-sync (full compare)', config, ['items']))
    results.push(timeSyncline('syncline incremental first run', config, ['items_incremental']))
    psql('syncline_bench_src', `UPDATE items SET amount = amount + 1, updated_at = now() WHERE id % 100 = 0`)
    results.push(timeSyncline('syncline re-sync after 1% changed (full)', config, ['items']))
    results.push(timeSyncline('syncline re-sync after 1% changed (incremental)', config, ['items_incremental']))

    const same = psql('syncline_bench_dst', `SELECT count(*) FROM items`).trim()
    console.log(`\nDestination rows after the runs: ${same} (source: ${ROWS})\n`)
    const width = Math.max(...results.map((r) => r.name.length))
    console.log(`${'what'.padEnd(width)}  seconds  × COPY  peak RSS`)
    for (const r of results) {
      const ratio = (r.seconds / copy.seconds).toFixed(2)
      const rss = r.peakRssMb === undefined ? '' : `${r.peakRssMb.toFixed(0)} MB`
      console.log(`${r.name.padEnd(width)}  ${r.seconds.toFixed(2).padStart(7)}  ${ratio.padStart(6)}  ${rss.padStart(8)}`)
      if (r.detail) console.log(`${''.padEnd(width)}  ${r.detail}`)
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
    for (const db of ['syncline_bench_src', 'syncline_bench_copy', 'syncline_bench_dst']) psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)
  }
}

main()
