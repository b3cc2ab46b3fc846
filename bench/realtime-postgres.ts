/**
 * Realtime PostgreSQL → PostgreSQL (issue 8): native logical replication
 * (publication + subscription between two databases of the local cluster)
 * against a syncline `mode: realtime` sync run as `syncline run ID`, each
 * between its own fresh pair of databases, in the same run.
 *
 * For each: change-to-destination latency of single-row UPDATEs, one at a
 * time (p50, p99 over BENCH_REALTIME_CHANGES, default 1,000; both pipelines
 * run and the probes alternate between them, so load from elsewhere on the
 * machine hits both alike), then, one pipeline at a time, a
 * sustained load of BENCH_REALTIME_RATE single-row changes/s (default
 * 10,000, or what the writer manages) for BENCH_REALTIME_SECONDS (default
 * 60): lag at start, middle and end, the achieved apply rate, how long the
 * destination needs to catch up, CPU; then a backlog of BENCH_REALTIME_BACKLOG
 * changes (default 100,000) committed while the replicator is stopped, and
 * the rate at which it drains once restarted (its apply rate when the writer
 * is not the limit: on a 2-core machine the writer cannot reach 10,000/s
 * next to the replicator). How the times are taken and
 * why: see realtime-load.ts. BENCH_REALTIME_ROWS sets the table size
 * (default 10,000), BENCH_REALTIME_WRITERS the writer's connections
 * (default 4, the fastest here); BENCH_REALTIME_CDC=triggers runs the
 * syncline half with `cdc: triggers` on its source (default auto: logical
 * replication; the triggers' cost lands in the writer's transactions, not
 * in the replication CPU row); BENCH_REALTIME_CPU_PROF=DIR writes a CPU
 * profile of the syncline process there.
 *
 * Reading the figures: a native subscription commits with
 * synchronous_commit = off by default, crash-safe because its progress
 * rides in the same WAL as the rows; a syncline sync's destination commit
 * waits for the WAL flush, because its position lives in the state store and
 * is saved only after that commit. That flush (~0.3 ms here) is part of the
 * latency gap by design, so a third pipeline, native with
 * synchronous_commit = on, takes part in the latency probes and syncline's
 * latency is shown against it too. Source and destination share one
 * cluster, and so one WAL: syncline's flushed destination commits queue at
 * the WAL flush with the writer's own (its sessions wait on LWLock:WALWrite
 * and IO:WALSync), which is most of why the writer manages fewer changes/s
 * while syncline streams; on two servers that would not be shared. The lag under load is the age of the newest change
 * visible, sampled every 250 ms, so it cannot show less than the gap between
 * two changes plus one round trip.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { dropPg, pgUrl, printComparison, psql, recreatePg, type ComparisonRow } from './harness.js'
import { PROBE_ROWS, PROBE_TRIGGER_SQL, REALTIME_DDL, drainBacklog, measureLatency, seedSql, sustainLoad, type BacklogResult, type LatencyResult, type SustainedResult } from './realtime-load.js'

const ROWS = Number(process.env.BENCH_REALTIME_ROWS ?? 10_000)
const CHANGES = Number(process.env.BENCH_REALTIME_CHANGES ?? 1_000)
const RATE = Number(process.env.BENCH_REALTIME_RATE ?? 10_000)
const SECONDS = Number(process.env.BENCH_REALTIME_SECONDS ?? 60)
const WRITERS = Number(process.env.BENCH_REALTIME_WRITERS ?? 4)
const BACKLOG = Number(process.env.BENCH_REALTIME_BACKLOG ?? 100_000)
/** The syncline source's change capture: `auto` (logical replication, the default) or `triggers` (a change-log table). */
const CDC = process.env.BENCH_REALTIME_CDC ?? 'auto'
const CLI = resolve('dist/cli/index.js')
const SYNC_ID = 'items_realtime'

/** What one replicator achieved. */
interface Figures {
  latency: LatencyResult
  sustained: SustainedResult
  backlog: BacklogResult
  /** The syncline process streaming the sustained load (CPU: that whole run). */
  peakRssMb?: number
  cpuSeconds?: number
  /** The syncline process started again to drain the backlog. */
  backlogPeakRssMb?: number
}

/** Source table with its rows; destination table, empty, with the probe trigger. */
function prepare({ src, dst }: Databases): void {
  recreatePg(src, dst)
  psql(src, REALTIME_DDL)
  psql(src, seedSql(ROWS))
  psql(src, 'VACUUM ANALYZE items')
  psql(dst, REALTIME_DDL)
  psql(dst, PROBE_TRIGGER_SQL)
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

/** Wait until the destination holds every source row (the initial copy is done). */
async function waitForCopy(dst: string, alive: () => string | undefined, timeoutMs = 300_000): Promise<void> {
  const until = Date.now() + timeoutMs
  const expected = ROWS + PROBE_ROWS
  for (;;) {
    const failure = alive()
    if (failure) throw new NotAvailable(failure)
    const landed = Number(psql(dst, 'SELECT count(*) FROM items').trim())
    if (landed >= expected) return
    if (Date.now() > until) throw new Error(`initial copy incomplete after ${timeoutMs / 1000} s: ${landed} of ${expected} rows`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** Drop the logical slots of a database (DROP DATABASE refuses while one exists), once their consumer let go. */
function dropSlots(database: string): void {
  const list = () => psql('postgres', `SELECT slot_name || ' ' || active FROM pg_replication_slots WHERE database = '${database}'`).trim()
  for (let i = 0; i < 100 && / true$/m.test(list()); i++) sleepSync(100)
  for (const line of list().split('\n').filter(Boolean)) {
    psql('postgres', `SELECT pg_drop_replication_slot('${line.split(' ')[0]}')`)
  }
}

function databaseExists(database: string): boolean {
  return psql('postgres', `SELECT 1 FROM pg_database WHERE datname = '${database}'`).trim() === '1'
}

/** Remove the subscription (keeping the slot, dropped by dropSlots), then the databases. Safe to call on leftovers. */
function teardown({ src, dst, subscription }: Databases): void {
  if (subscription && databaseExists(dst) && psql(dst, `SELECT 1 FROM pg_subscription WHERE subname = '${subscription}'`).trim() === '1') {
    // Detach the slot first: dropping it from inside DROP SUBSCRIPTION would connect back to this cluster.
    psql(dst, `ALTER SUBSCRIPTION ${subscription} DISABLE`)
    psql(dst, `ALTER SUBSCRIPTION ${subscription} SET (slot_name = NONE)`)
    psql(dst, `DROP SUBSCRIPTION ${subscription}`)
  }
  if (databaseExists(src)) dropSlots(src)
  dropPg(src, dst)
}

/** libpq conninfo of a database of the benchmark server, for CREATE SUBSCRIPTION. */
function conninfo(database: string): string {
  const url = new URL(pgUrl(database))
  const parts = [`host=${url.hostname}`, `port=${url.port || 5432}`, `user=${decodeURIComponent(url.username || 'postgres')}`, `dbname=${database}`]
  if (url.password) parts.push(`password=${decodeURIComponent(url.password)}`)
  return parts.join(' ')
}

interface Databases {
  src: string
  dst: string
  /** Native pairs: the subscription on `dst` (its slot on `src` has the same name). */
  subscription?: string
}

const NATIVE: Databases = { src: 'syncline_bench_rt_native_src', dst: 'syncline_bench_rt_native_dst', subscription: 'syncline_bench_native' }
/** Native again with synchronous_commit = on, the commit a syncline destination makes: latency only. */
const NATIVE_FLUSHED: Databases = { src: 'syncline_bench_rt_flushed_src', dst: 'syncline_bench_rt_flushed_dst', subscription: 'syncline_bench_flushed' }
const SYNCLINE: Databases = { src: 'syncline_bench_rt_src', dst: 'syncline_bench_rt_dst' }
const ALL = [NATIVE, NATIVE_FLUSHED, SYNCLINE]
const urls = (d: Databases) => ({ src: pgUrl(d.src), dst: pgUrl(d.dst) })

/** Native logical replication between two databases of one cluster; the initial copy starts at once. */
function startNative({ src, dst, subscription }: Databases, synchronousCommit: 'off' | 'on' = 'off'): void {
  psql(src, `CREATE PUBLICATION syncline_bench_pub FOR TABLE items`)
  // Inside one cluster CREATE SUBSCRIPTION would wait for its own transaction while creating the slot: create it first.
  psql(src, `SELECT pg_create_logical_replication_slot('${subscription}', 'pgoutput')`)
  psql(
    dst,
    `CREATE SUBSCRIPTION ${subscription} CONNECTION '${conninfo(src)}' PUBLICATION syncline_bench_pub
       WITH (create_slot = false, slot_name = '${subscription}', synchronous_commit = '${synchronousCommit}')`,
  )
}

/**
 * Stop or restart the native apply worker. Its walsender decodes all of the
 * cluster's WAL, so while the other pipeline runs under load it would eat CPU
 * that belongs to the pipeline measured.
 */
function setNativeEnabled({ src, dst, subscription }: Databases, enabled: boolean): void {
  psql(dst, `ALTER SUBSCRIPTION ${subscription} ${enabled ? 'ENABLE' : 'DISABLE'}`)
  if (!enabled) for (let i = 0; i < 100 && psql(src, `SELECT active FROM pg_replication_slots WHERE slot_name = '${subscription}'`).trim() === 't'; i++) sleepSync(100)
}

/** syncline could not run the sync at all (realtime not built yet, refused): reported, not thrown. */
class NotAvailable extends Error {}

/** Memory and CPU of a running process, from /proc. */
function processUsage(pid: number): { peakRssMb: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0)
  // Fields after the command name: utime and stime are the 12th and 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return { peakRssMb: hwm / 1024, cpuSeconds: (Number(stat[11]) + Number(stat[12])) / 100 }
}

/** What the child said last, for a report: its JSON error message, or its last output line. */
function lastWords(output: string): string {
  const lines = output.trim().split('\n').filter(Boolean)
  for (const line of [...lines].reverse()) {
    try {
      const parsed = JSON.parse(line) as { error?: string | { message?: string } }
      if (parsed.error) return typeof parsed.error === 'string' ? parsed.error : (parsed.error.message ?? line)
    } catch {}
  }
  return lines.at(-1) ?? 'no output'
}

/** A syncline realtime sync, `syncline run ID` as a user starts it. */
class SynclineRun {
  private output = ''
  private constructor(readonly child: ChildProcess) {
    const keep = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-16_000))
    child.stdout!.on('data', keep)
    child.stderr!.on('data', keep)
  }

  static start(work: string, { src, dst }: Databases): SynclineRun {
    const config = join(work, 'realtime.yaml')
    writeFileSync(
      config,
      `state: ./realtime-state.db
connections:
  src: { url: "${pgUrl(src)}", cdc: ${CDC} }
  dst: { url: "${pgUrl(dst)}" }
syncs:
  - { id: ${SYNC_ID}, source: { connection: src, entity: items }, destination: { connection: dst, entity: items }, mode: realtime }
`,
    )
    // BENCH_REALTIME_CPU_PROF=DIR: a V8 CPU profile of the syncline process, written when it stops (open it in Chrome DevTools).
    const profile = process.env.BENCH_REALTIME_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', resolve(process.env.BENCH_REALTIME_CPU_PROF)] : []
    return new SynclineRun(spawn(process.execPath, [...profile, CLI, 'run', '--json', '--config', config, SYNC_ID], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] }))
  }

  /** Why the process is gone, or undefined while it runs. */
  exited(): string | undefined {
    const { exitCode, signalCode } = this.child
    return exitCode !== null || signalCode !== null ? `syncline run exited (${exitCode ?? signalCode}): ${lastWords(this.output)}` : undefined
  }

  /** Run a phase; if it fails because the process died, say so. */
  async during<T>(phase: Promise<T>): Promise<T> {
    try {
      return await phase
    } catch (error) {
      const why = this.exited()
      throw why ? new Error(`${(error as Error).message}; ${why}`) : error
    }
  }

  usage(): { peakRssMb: number; cpuSeconds: number } {
    return processUsage(this.child.pid!)
  }

  /** Ctrl-C as a user stops it; killed after 15 s. */
  async stop(): Promise<void> {
    if (this.exited()) return
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()))
    this.child.kill('SIGINT')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000)
    await gone
    clearTimeout(timer)
  }
}

/**
 * Both pipelines run side by side for the latency probes (alternating, so
 * other load on the machine hits both alike); the sustained load runs on
 * one at a time, the other stopped.
 */
async function measureBoth(work: string): Promise<{ native: Figures; flushed: LatencyResult; syncline?: Figures; unavailable?: string }> {
  let run: SynclineRun | undefined
  try {
    for (const pair of ALL) prepare(pair)
    startNative(NATIVE)
    startNative(NATIVE_FLUSHED, 'on')
    run = SynclineRun.start(work, SYNCLINE)
    let unavailable: string | undefined
    try {
      const started = run
      await waitForCopy(SYNCLINE.dst, () => started.exited())
    } catch (error) {
      if (!(error instanceof NotAvailable)) throw error
      unavailable = error.message
      run = undefined
    }
    await waitForCopy(NATIVE.dst, () => undefined)
    await waitForCopy(NATIVE_FLUSHED.dst, () => undefined)
    const live = run
    const pairs = [urls(NATIVE), urls(NATIVE_FLUSHED), ...(live ? [urls(SYNCLINE)] : [])]
    // Warm-up: the first probes pay for connections, plans and caches on both sides.
    const during = <T>(phase: Promise<T>) => (live ? live.during(phase) : phase)
    await during(measureLatency(pairs, 50, { timeoutMs: 60_000 }))
    const [nativeLatency, flushed, synclineLatency] = await during(measureLatency(pairs, CHANGES))
    // Its walsender would decode the load of the phases below.
    teardown(NATIVE_FLUSHED)
    const load = { rate: RATE, seconds: SECONDS, rows: ROWS, writers: WRITERS }

    let syncline: Figures | undefined
    if (live) {
      setNativeEnabled(NATIVE, false)
      const pipeline = { databases: [SYNCLINE.src, SYNCLINE.dst], pids: [live.child.pid!] }
      const sustained = await live.during(sustainLoad(pgUrl(SYNCLINE.src), pgUrl(SYNCLINE.dst), { ...load, pipeline }))
      const why = live.exited()
      if (why) throw new Error(`during the sustained load ${why}`)
      const usage = live.usage()
      // The backlog: stopped as a user stops it, changes pile up in its slot, then a new `syncline run` resumes.
      let again: SynclineRun | undefined
      const backlog = await drainBacklog(pgUrl(SYNCLINE.src), pgUrl(SYNCLINE.dst), {
        changes: BACKLOG,
        rows: ROWS,
        writers: WRITERS,
        pause: () => live.stop(),
        resume: async () => {
          again = run = SynclineRun.start(work, SYNCLINE)
        },
      }).catch((error: Error) => {
        throw new Error(`${error.message}${again?.exited() ? `; ${again.exited()}` : ''}`)
      })
      const backlogPeakRssMb = again!.usage().peakRssMb
      await again!.stop()
      run = undefined
      syncline = { latency: synclineLatency!, sustained, backlog, ...usage, backlogPeakRssMb }
      setNativeEnabled(NATIVE, true)
      // Re-enabling may wait out wal_retrieve_retry_interval (5 s) before the apply worker starts.
      await measureLatency([urls(NATIVE)], 10, { timeoutMs: 60_000 })
    }
    const sustained = await sustainLoad(pgUrl(NATIVE.src), pgUrl(NATIVE.dst), { ...load, pipeline: { databases: [NATIVE.src, NATIVE.dst] } })
    const backlog = await drainBacklog(pgUrl(NATIVE.src), pgUrl(NATIVE.dst), {
      changes: BACKLOG,
      rows: ROWS,
      writers: WRITERS,
      pause: async () => setNativeEnabled(NATIVE, false),
      resume: async () => setNativeEnabled(NATIVE, true),
    })
    return { native: { latency: nativeLatency!, sustained, backlog }, flushed: flushed!, syncline, unavailable }
  } finally {
    await run?.stop()
  }
}

function rows(baseline: Figures, flushed: LatencyResult, other?: Figures): ComparisonRow[] {
  const row = (what: string, pick: (f: Figures) => number | undefined, digits = 2, better: ComparisonRow['better'] = 'lower'): ComparisonRow => ({
    what,
    baseline: pick(baseline),
    other: other ? pick(other) : undefined,
    digits,
    better,
  })
  return [
    row('latency p50 (ms)', (f) => f.latency.p50Ms),
    row('latency p99 (ms)', (f) => f.latency.p99Ms),
    row('latency max (ms)', (f) => f.latency.maxMs),
    row('  trigger view p50 (ms, before dst commit)', (f) => f.latency.serverP50Ms),
    // The same syncline figures against a subscription whose commits wait for the WAL flush, as syncline's do.
    { what: 'latency p50 vs native synchronous_commit=on (ms)', baseline: flushed.p50Ms, other: other?.latency.p50Ms },
    { what: 'latency p99 vs native synchronous_commit=on (ms)', baseline: flushed.p99Ms, other: other?.latency.p99Ms },
    row('sustained: writer changes/s', (f) => f.sustained.writeRate, 0, 'neither'),
    row('sustained: applied changes/s (while writing)', (f) => f.sustained.applyRateDuring, 0, 'higher'),
    row('sustained: applied changes/s (until caught up)', (f) => f.sustained.applyRateOverall, 0, 'higher'),
    row('sustained: applied / written (1.00: kept up)', (f) => f.sustained.applyRateDuring / f.sustained.writeRate, 2, 'higher'),
    row('sustained: lag at start (ms)', (f) => f.sustained.lagStartMs, 1),
    row('sustained: lag at middle (ms)', (f) => f.sustained.lagMiddleMs, 1),
    row('sustained: lag at end (ms)', (f) => f.sustained.lagEndMs, 1),
    row('sustained: catch-up after writer stopped (s)', (f) => f.sustained.catchUpSeconds, 2),
    row('sustained: replication CPU per 1,000 changes (ms)', (f) => f.sustained.pipelineCpuMsPer1000, 1),
    row('  of which the syncline process (ms)', (f) => f.sustained.processCpuMsPer1000, 1),
    row('sustained: machine CPU busy (%)', (f) => f.sustained.machineCpuPercent, 0, 'neither'),
    row('sustained: load average (1 min) at its end', (f) => f.sustained.loadAverage, 2, 'neither'),
    row(`backlog of ${BACKLOG.toLocaleString('en')}: applied changes/s`, (f) => f.backlog.drainRate, 0, 'higher'),
    row('backlog: restart until first change lands (s)', (f) => f.backlog.startSeconds, 2),
    row('syncline process CPU (s, whole streaming run)', (f) => f.cpuSeconds, 1),
    row('syncline process peak RSS (MB, streaming)', (f) => f.peakRssMb, 0),
    row('syncline process peak RSS (MB, backlog)', (f) => f.backlogPeakRssMb, 0),
  ]
}

/** Lag grows when the end of the window is well behind its start. */
function lagVerdict(s: SustainedResult): string {
  const grows = s.lagEndMs > 2 * s.lagStartMs + 50
  const behind = s.catchUpSeconds === undefined ? `; still behind when the drain timeout ended` : ''
  return `lag ${grows ? 'GROWS' : 'steady'} (${s.lagStartMs.toFixed(1)} → ${s.lagMiddleMs.toFixed(1)} → ${s.lagEndMs.toFixed(1)} ms)${behind}${s.converged ? '' : '; DESTINATION DIFFERS FROM SOURCE'}; ${s.detail}`
}

/** Run the section in `work` (a temp directory). */
export async function realtimePostgres(work: string): Promise<void> {
  for (const pair of ALL) teardown(pair)
  let measured: Awaited<ReturnType<typeof measureBoth>>
  try {
    measured = await measureBoth(work)
  } finally {
    for (const pair of ALL) teardown(pair)
  }
  const { native, flushed, syncline, unavailable } = measured
  printComparison(
    `Realtime PostgreSQL → PostgreSQL  (native logical replication vs a syncline realtime sync, cdc: ${CDC}; ${ROWS.toLocaleString('en')} rows; ${CHANGES.toLocaleString('en')} single changes; ${SECONDS} s at ${RATE.toLocaleString('en')} changes/s over ${WRITERS} connections)`,
    'native',
    'syncline',
    rows(native, flushed, syncline),
  )
  console.log(`\nnative:   ${lagVerdict(native.sustained)}`)
  if (syncline) console.log(`syncline: ${lagVerdict(syncline.sustained)}`)
  else console.log(`syncline: not available yet (${unavailable})`)
}
