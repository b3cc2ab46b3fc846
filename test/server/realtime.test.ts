/**
 * Realtime syncs under `syncline serve`: started with the daemon and kept
 * streaming (a PostgreSQL source over logical replication into SQLite);
 * when the stream breaks (its replication connection is terminated) the
 * daemon restarts it after a pause and it carries on from its saved
 * position; SIGTERM stops it in order (exit 0, the run succeeded).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_TIMEOUT_MS, ensureBuilt } from '../cli/build.js'
import { workspace, type Workspace } from '../cli/workspace.js'
import { createPgDatabase, hasPostgres, pgQuery } from '../helpers/services.js'
import { startDaemon, waitFor, type DaemonProcess } from './daemon-process.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

const pgAvailable = await hasPostgres()
const required = process.env.SYNCLINE_TEST_SERVICES === 'required'

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

describe.skipIf(!pgAvailable && !required)('syncline serve: realtime syncs', () => {
  it('keeps a realtime sync streaming, restarts it after its stream breaks, and stops it in order on SIGTERM', async () => {
    const w = (ws = workspace('syncline-serve-rt-'))
    const source = await createPgDatabase('syncline_serve_rt')
    cleanups.push(async () => {
      await pgQuery(source.url, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = current_database() AND active_pid IS NOT NULL`)
      await waitFor(async () => (await pgQuery(source.url, `SELECT 1 FROM pg_replication_slots WHERE database = current_database() AND active`)).length === 0, 10_000)
      await pgQuery(source.url, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()`).catch(() => undefined)
      await source.drop()
    })
    await pgQuery(source.url, `CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL); INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 50) i`)
    w.write('syncline.yaml', `connections:
  src: { url: ${source.url} }
  dst: { url: sqlite:./dst.db }
syncs:
  - id: items
    source: { connection: src, entity: items }
    destination: { connection: dst, entity: items, create: true }
    mode: realtime
    batchSize: 100
    # A broken stream is restarted by the daemon itself (not retried inside the run).
    retries: 0
    retryDelay: 200ms
`)
    const count = () => {
      try {
        return Number(w.sqliteRows<{ n: number }>('dst.db', 'SELECT count(*) AS n FROM items')[0]!.n)
      } catch {
        return 0 // not created yet
      }
    }
    daemon = await startDaemon(w.dir)
    await waitFor(() => count() === 50, 30_000, 'the snapshot to land')
    const view = (await daemon.api<{ status: string; running: boolean; run: { trigger: string } }>('/api/syncs/items')).body
    expect(view).toMatchObject({ status: 'streaming', running: true, run: { trigger: 'realtime' } })
    // A realtime sync runs all the time: another run is refused.
    expect((await daemon.api('/api/syncs/items/run', { method: 'POST' })).status).toBe(409)

    await pgQuery(source.url, `INSERT INTO items SELECT i, 'new ' || i FROM generate_series(51, 80) i`)
    await waitFor(() => count() === 80, 20_000, 'streamed inserts to land')

    // The stream breaks: its replication connection is terminated at the server.
    await pgQuery(source.url, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = current_database() AND active_pid IS NOT NULL`)
    await waitFor(() => daemon!.logs().some((l) => l.msg === 'realtime sync stopped; restarting after a pause'), 20_000, 'the daemon to notice')
    await pgQuery(source.url, `INSERT INTO items SELECT i, 'after ' || i FROM generate_series(81, 100) i; DELETE FROM items WHERE id <= 10`)
    await waitFor(() => count() === 90, 30_000, 'changes after the restart to land')
    expect(w.sqliteRows('dst.db', 'SELECT id, name FROM items ORDER BY id')).toEqual(
      (await pgQuery<{ id: number; name: string }>(source.url, 'SELECT id, name FROM items ORDER BY id')).map((r) => ({ id: r.id, name: r.name })),
    )
    const metrics = (await daemon.api<string>('/metrics')).body
    expect(metrics).toMatch(/^syncline_realtime_lag_seconds\{sync="items"\} \d/m)
    expect(metrics).toMatch(/^syncline_replication_slot_retained_bytes\{sync="items"\} \d/m)
    expect(metrics).toMatch(/^syncline_rows_written_total\{sync="items",operation="created"\} [1-9]/m)

    const stopped = await daemon.stop('SIGTERM')
    daemon = undefined
    expect(stopped.code, stopped.stderr.slice(-3000)).toBe(0)
    const runs = w.sqliteRows<{ status: string; mode: string }>('.syncline/state.db', 'SELECT status, mode FROM runs ORDER BY seq')
    expect(runs[0]).toMatchObject({ status: 'failed', mode: 'realtime' })
    expect(runs.at(-1)).toMatchObject({ status: 'succeeded', mode: 'realtime' })
    expect(w.sqliteRows('.syncline/state.db', 'SELECT sync_id FROM feed_positions')).toEqual([{ sync_id: 'items' }])
  }, 120_000)
})
