/**
 * Shared pieces of the benchmarks: PostgreSQL helpers, timing a shell
 * baseline, timing `syncline run` as a user runs it (with its peak RSS),
 * and printing a section's table as ratios to its baseline.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { resolve } from 'node:path'

/** Rows per benchmark table (BENCH_ROWS, default 1,000,000). */
export const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000)
const SERVER = new URL(process.env.SYNCLINE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres')
const CLI = resolve('dist/cli/index.js')

/** The items table of every benchmark, in PostgreSQL. */
export const ITEMS_DDL = `CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL, amount numeric(12,2) NOT NULL, status text NOT NULL, updated_at timestamptz NOT NULL)`

/** One timed thing. */
export interface Measurement {
  name: string
  seconds: number
  peakRssMb?: number
  detail?: string
}

/** URL of a database on the benchmark server. */
export function pgUrl(database: string): string {
  const url = new URL(SERVER)
  url.pathname = `/${database}`
  return url.toString()
}

/** Run SQL with psql. */
export function psql(database: string, sql: string): string {
  // No NOTICEs ("database … does not exist, skipping") between the tables.
  const env = { ...process.env, PGOPTIONS: `${process.env.PGOPTIONS ?? ''} -c client_min_messages=warning` }
  return execFileSync('psql', [pgUrl(database), '-v', 'ON_ERROR_STOP=1', '-Atqc', sql], { encoding: 'utf8', env })
}

/** Drop and create databases. */
export function recreatePg(...databases: string[]): void {
  for (const d of databases) {
    psql('postgres', `DROP DATABASE IF EXISTS ${d} WITH (FORCE)`)
    psql('postgres', `CREATE DATABASE ${d}`)
  }
}

/** Drop databases. */
export function dropPg(...databases: string[]): void {
  for (const d of databases) psql('postgres', `DROP DATABASE IF EXISTS ${d} WITH (FORCE)`)
}

/** Whether a command is on the PATH. */
export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0
}

/** Time a shell pipeline (bash, pipefail). */
export function timeShell(name: string, command: string): Measurement {
  const start = process.hrtime.bigint()
  execFileSync('bash', ['-o', 'pipefail', '-c', command], { stdio: ['ignore', 'ignore', 'inherit'] })
  return { name, seconds: Number(process.hrtime.bigint() - start) / 1e9 }
}

/** How many times a section's baseline pipe runs; its median is the ratios' denominator. */
export const BASELINE_RUNS = 3

/**
 * Time a baseline pipe {@link BASELINE_RUNS} times, `reset` (untimed) before
 * each, and keep the median: one sample of a COPY pipe swung 1.2–1.8 s at
 * 1,000,000 rows on the same machine within an hour, and every ratio of the
 * section swung with it. The range goes in the detail line.
 */
export function timeBaseline(name: string, command: string, reset: () => void): Measurement {
  const samples: number[] = []
  for (let i = 0; i < BASELINE_RUNS; i++) {
    reset()
    samples.push(timeShell(name, command).seconds)
  }
  const sorted = [...samples].sort((a, b) => a - b)
  return { name: `${name} (median of ${BASELINE_RUNS})`, seconds: sorted[Math.floor(sorted.length / 2)]!, detail: `runs: ${samples.map((s) => s.toFixed(2)).join(', ')} s` }
}

/** Run `syncline run` as a user would, timed from outside, with its peak RSS. */
export function timeSyncline(name: string, config: string, extra: string[] = []): Measurement {
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

/** Print a section: each measurement as a ratio to the baseline (the first one unless named). */
export function printSection(title: string, results: Measurement[], baseline: Measurement = results[0]!, rows = ROWS): void {
  console.log(`\n## ${title}  (${rows.toLocaleString('en')} rows; ratio = seconds / ${baseline.name})\n`)
  const width = Math.max(...results.map((r) => r.name.length))
  console.log(`${'what'.padEnd(width)}  seconds   ratio  peak RSS`)
  for (const r of results) {
    const rss = r.peakRssMb === undefined ? '' : `${r.peakRssMb.toFixed(0)} MB`
    console.log(`${r.name.padEnd(width)}  ${r.seconds.toFixed(2).padStart(7)}  ${(r.seconds / baseline.seconds).toFixed(2).padStart(6)}  ${rss.padStart(8)}`)
    if (r.detail) console.log(`${''.padEnd(width)}  ${r.detail}`)
  }
}

/** One line of a side-by-side section: a figure of the baseline and of the thing measured against it. */
export interface ComparisonRow {
  what: string
  baseline?: number
  other?: number
  /** Decimals to print (default 2). */
  digits?: number
  /** Which way is better, for the "(worse)" note beside the ratio: latencies lower (default), rates higher; context figures neither. */
  better?: 'lower' | 'higher' | 'neither'
}

/**
 * Print figures side by side with ratio = other / baseline (for a latency
 * above 1 is slower, for a rate below 1 is slower); a figure one side lacks
 * prints as "-".
 */
export function printComparison(title: string, baselineName: string, otherName: string, rows: ComparisonRow[]): void {
  console.log(`\n## ${title}  (ratio = ${otherName} / ${baselineName})\n`)
  const width = Math.max(4, ...rows.map((r) => r.what.length))
  const cell = Math.max(12, baselineName.length, otherName.length)
  const show = (v: number | undefined, digits: number) => (v === undefined || Number.isNaN(v) ? '-' : v.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits }))
  console.log(`${'what'.padEnd(width)}  ${baselineName.padStart(cell)}  ${otherName.padStart(cell)}   ratio`)
  for (const r of rows) {
    const digits = r.digits ?? 2
    const ratio = r.baseline !== undefined && r.other !== undefined && r.baseline > 0 ? r.other / r.baseline : undefined
    // Within 5% is a tie on this kind of machine.
    const better = r.better ?? 'lower'
    const worse = ratio !== undefined && ((better === 'lower' && ratio > 1.05) || (better === 'higher' && ratio < 0.95))
    const note = worse ? ' (worse)' : ''
    console.log(`${r.what.padEnd(width)}  ${show(r.baseline, digits).padStart(cell)}  ${show(r.other, digits).padStart(cell)}  ${show(ratio, 2).padStart(6)}${note}`)
  }
}
