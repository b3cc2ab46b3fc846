/**
 * The daemon's scheduler, as a real `syncline serve` process: twenty syncs
 * on a two-second schedule (SQLite sources, PostgreSQL destinations, state
 * in PostgreSQL) run once per tick each, never twice and never missing one,
 * and no two runs of a sync overlap. A sync whose run outlasts its interval
 * (its destination table locked by another session) has the overlapping
 * ticks skipped and logged rather than run beside it.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_TIMEOUT_MS, ensureBuilt } from '../cli/build.js'
import pg from 'pg'
import { workspace, type Workspace } from '../cli/workspace.js'
import { createPgDatabase, hasPostgres, pgQuery } from '../helpers/services.js'
import { startDaemon, waitFor, type DaemonProcess } from '../server/daemon-process.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

const pgAvailable = await hasPostgres()
const required = process.env.SYNCLINE_TEST_SERVICES === 'required'
const SYNCS = 20
const INTERVAL_S = 2

interface RunRow {
  sync_id: string
  run_id: string
  status: string
  started_at: string
  finished_at: string | null
}

let ws: Workspace | undefined
let daemon: DaemonProcess | undefined
const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  await daemon?.stop('SIGKILL')
  daemon = undefined
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  ws?.remove()
  ws = undefined
})

/** Runs of one sync never overlap: each starts after the previous one finished. */
function expectNoOverlap(runs: RunRow[]): void {
  const sorted = [...runs].sort((a, b) => a.started_at.localeCompare(b.started_at))
  for (let i = 1; i < sorted.length; i++) {
    expect(Date.parse(sorted[i]!.started_at), `${sorted[i]!.sync_id} run ${i}`).toBeGreaterThanOrEqual(Date.parse(sorted[i - 1]!.finished_at!))
  }
}

describe.skipIf(!pgAvailable && !required)('syncline serve: schedules', () => {
  it(`runs ${SYNCS} syncs on a ${INTERVAL_S} s schedule once per tick each, none overlapping`, async () => {
    ws = workspace('syncline-schedule-')
    const destination = await createPgDatabase('syncline_schedule')
    cleanups.push(destination.drop)
    const state = await createPgDatabase('syncline_schedule_state')
    cleanups.push(state.drop)
    const syncs: string[] = []
    for (let i = 0; i < SYNCS; i++) {
      ws.sqlite(`src${i}.db`, `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL); INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')`)
      syncs.push(`  - id: sync-${i}
    source: { connection: src${i}, entity: items }
    destination: { connection: dst, entity: items_${i}, create: true }
    schedule: "*/${INTERVAL_S} * * * * *"
    timezone: UTC`)
    }
    ws.write('syncline.yaml', `state: ${state.url}
connections:
${Array.from({ length: SYNCS }, (_, i) => `  src${i}: { url: sqlite:./src${i}.db }`).join('\n')}
  dst: { url: ${destination.url} }
syncs:
${syncs.join('\n')}
`)
    daemon = await startDaemon(ws.dir)
    const listed = (await daemon.api<Array<{ id: string; nextRunAt: string }>>('/api/syncs')).body
    expect(listed).toHaveLength(SYNCS)
    for (const s of listed) expect(Date.parse(s.nextRunAt) % (INTERVAL_S * 1000)).toBe(0)
    await new Promise((r) => setTimeout(r, 9_000))
    // Stop halfway between two ticks, so the runs of the last tick have had a second to finish.
    await new Promise((r) => setTimeout(r, (INTERVAL_S * 1000 * 1.5 - (Date.now() % (INTERVAL_S * 1000))) % (INTERVAL_S * 1000)))
    const stoppedAt = Date.now()
    const ended = await daemon.stop('SIGTERM')
    const logs = daemon.logs()
    daemon = undefined
    expect(ended.code, ended.stderr.slice(-2000)).toBe(0)

    const runs = await pgQuery<RunRow>(state.url, 'SELECT sync_id, run_id, status, started_at, finished_at FROM syncline.runs')
    const started = logs.filter((l) => l.msg === 'run started')
    expect(logs.filter((l) => l.msg === 'tick skipped: the previous run still goes on')).toEqual([])
    expect(runs).toHaveLength(started.length)
    for (let i = 0; i < SYNCS; i++) {
      const mine = runs.filter((r) => r.sync_id === `sync-${i}`)
      // SIGTERM stops a run still going at its next batch boundary (docs/daemon.md): only a run that
      // had not finished when the signal went out may be cancelled, and only the sync's last one.
      const sorted = [...mine].sort((a, b) => a.started_at.localeCompare(b.started_at))
      const inFlight = (r: RunRow) => r === sorted.at(-1) && r.status === 'cancelled' && Date.parse(r.finished_at!) >= stoppedAt
      expect(sorted.every((r) => r.status === 'succeeded' || inFlight(r)), JSON.stringify(sorted)).toBe(true)
      expectNoOverlap(mine)
      // One run per tick: each in its own two-second slot, and no slot between the first and the last missed.
      const slots = mine.map((r) => Math.floor(Date.parse(r.started_at) / (INTERVAL_S * 1000))).sort((a, b) => a - b)
      expect(new Set(slots).size, `sync-${i}: ${JSON.stringify(mine.map((r) => r.started_at))}`).toBe(slots.length)
      expect(slots.at(-1)! - slots[0]! + 1, `sync-${i} missed a tick`).toBe(slots.length)
      expect(slots.length).toBeGreaterThanOrEqual(3)
    }
    const tables = await pgQuery<{ n: string }>(destination.url, `SELECT count(*) AS n FROM pg_tables WHERE tablename LIKE 'items_%'`)
    expect(Number(tables[0]!.n)).toBe(SYNCS)
  }, 120_000)

  it('skips and logs a tick that comes while the previous run still goes on', async () => {
    ws = workspace('syncline-overlap-')
    ws.sqlite('src.db', `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL); INSERT INTO items VALUES (1, 'a'), (2, 'b')`)
    const destination = await createPgDatabase('syncline_overlap')
    cleanups.push(destination.drop)
    await pgQuery(destination.url, 'CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL)')
    ws.write('syncline.yaml', `connections:
  src: { url: sqlite:./src.db }
  dst: { url: ${destination.url} }
syncs:
  - id: slow
    source: { connection: src, entity: items }
    destination: { connection: dst, entity: items }
    schedule: "* * * * * *"
`)
    // Another session holds the destination table: the run that starts waits for it, longer than the one-second interval.
    const holder = new pg.Client({ connectionString: destination.url })
    await holder.connect()
    cleanups.push(() => holder.end())
    await holder.query('BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE')
    daemon = await startDaemon(ws.dir)
    await waitFor(() => daemon!.logs().filter((l) => l.msg === 'tick skipped: the previous run still goes on').length >= 2, 15_000, 'two ticks to be skipped')
    await holder.query('COMMIT')
    await waitFor(() => daemon!.logs().some((l) => l.msg === 'run finished'), 15_000, 'the held run to finish')
    await new Promise((r) => setTimeout(r, 2_500)) // the next ticks run again
    const metrics = (await daemon.api<string>('/metrics')).body
    const ended = await daemon.stop('SIGTERM')
    const logs = daemon.logs()
    daemon = undefined
    expect(ended.code).toBe(0)
    const skipped = logs.filter((l) => l.msg === 'tick skipped: the previous run still goes on')
    const first = logs.find((l) => l.msg === 'run started')!
    // The skipped ticks name the run they gave way to.
    expect(skipped.slice(0, 2)).toEqual([expect.objectContaining({ syncId: 'slow', level: 'warn', runId: first.runId }), expect.objectContaining({ runId: first.runId })])
    expect(metrics).toMatch(new RegExp(`^syncline_schedule_skipped_total\\{sync="slow"\\} ${skipped.length}$`, 'm'))
    const runs = ws.sqliteRows<RunRow>('.syncline/state.db', 'SELECT sync_id, run_id, status, started_at, finished_at FROM runs')
    expectNoOverlap(runs)
    expect(runs.length).toBe(logs.filter((l) => l.msg === 'run started').length)
    expect(runs.length).toBeGreaterThanOrEqual(2) // ticks after the slow run ran again
    expect(runs.every((r) => r.status === 'succeeded')).toBe(true)
  }, 60_000)
})
