/**
 * `syncline serve` as a user runs it: a child process with its HTTP API.
 * The token guards everything but /health and /ready; serve refuses to
 * start without one unless on loopback with --no-auth; a run is started
 * (202 with its run id, then 409 while it goes on) and cancelled at a batch
 * boundary; SIGTERM during a run exits 0 with the run recorded and its
 * watermark saved; a datasource that is down at start is reported in the
 * sync's status and retried until it is back; /ready says 503 while the
 * state store is unreachable.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_TIMEOUT_MS, ensureBuilt } from '../cli/build.js'
import { cli, jsonLines, startCli } from '../cli/cli.js'
import { fillItems, workspace, type Workspace } from '../cli/workspace.js'
import { createPgDatabase, hasPostgres, pgQuery } from '../helpers/services.js'
import { freePort, startProxy, type TcpProxy } from '../helpers/tcp-proxy.js'
import { startDaemon, TEST_TOKEN, waitFor, type DaemonProcess } from './daemon-process.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

const pgAvailable = await hasPostgres()
const required = process.env.SYNCLINE_TEST_SERVICES === 'required'
const ROWS = 200_000
const BATCH = 500

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

/** A plan with one incremental SQLite → SQLite sync of `items` (ROWS rows when `fill`). */
function itemsWorkspace(fill = true): Workspace {
  const w = workspace('syncline-serve-')
  if (fill) fillItems(w.path('src.db'), ROWS)
  else w.sqlite('src.db', `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated_at TEXT NOT NULL); INSERT INTO items VALUES (1, 'one', '2026-01-01T00:00:00Z')`)
  w.write('syncline.yaml', `connections:
  src: { url: sqlite:./src.db }
  dst: { url: sqlite:./dst.db }
syncs:
  - id: items
    source: { connection: src, entity: items }
    destination: { connection: dst, entity: items, create: true }
    mode: incremental
    cursor: updated_at
    batchSize: ${BATCH}
    # The row path, batch by batch with checkpoints (not one bulk copy).
    filters: [{ field: id, op: ">", value: 0 }]
`)
  return w
}

const written = async (d: DaemonProcess) => {
  const metrics = (await d.api<string>('/metrics')).body
  return Number(/^syncline_rows_written_total\{sync="items",operation="created"\} (\d+)/m.exec(metrics)?.[1] ?? 0)
}

describe('syncline serve: authentication', () => {
  it('refuses to start without SYNCLINE_TOKEN, and allows --no-auth only on loopback', async () => {
    ws = itemsWorkspace(false)
    const noToken = await cli(['serve', '--port', '0'], { cwd: ws.dir, env: { SYNCLINE_TOKEN: '' } })
    expect(noToken.code, noToken.all).toBe(2)
    expect(noToken.stderr).toContain('syncline serve needs a token for its API: set SYNCLINE_TOKEN')
    const open = await cli(['serve', '--port', '0', '--no-auth', '--host', '0.0.0.0'], { cwd: ws.dir, env: { SYNCLINE_TOKEN: '' } })
    expect(open.code, open.all).toBe(2)
    expect(open.stderr).toContain('--no-auth is allowed only on a loopback address')

    daemon = await startDaemon(ws.dir, { args: ['--no-auth'], env: { SYNCLINE_TOKEN: '' } })
    expect((await daemon.api('/api/syncs', { token: null })).status).toBe(200)
    expect((await daemon.stop()).code).toBe(0)
  }, 60_000)

  it('answers 401 without the right token on everything but /health and /ready', async () => {
    ws = itemsWorkspace(false)
    daemon = await startDaemon(ws.dir)
    expect(await daemon.api('/health', { token: null })).toEqual({ status: 200, body: { status: 'ok' } })
    expect(await daemon.api('/ready', { token: null })).toEqual({ status: 200, body: { status: 'ready' } })
    for (const path of ['/api/syncs', '/api/syncs/items', '/api/syncs/items/runs', '/metrics']) {
      const missing = await daemon.api<{ error: { code: string; message: string } }>(path, { token: null })
      expect(missing.status, path).toBe(401)
      expect(missing.body.error).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringContaining('Authorization: Bearer') })
      const wrong = await daemon.api<{ error: { code: string } }>(path, { token: `${TEST_TOKEN}x` })
      expect(wrong.status, path).toBe(401)
      expect(wrong.body.error.code).toBe('UNAUTHORIZED')
    }
    const refusedRun = await daemon.api('/api/syncs/items/run', { method: 'POST', token: 'nope' })
    expect(refusedRun.status).toBe(401)
    // Nothing ran on a refused request.
    expect((await daemon.api<unknown[]>('/api/syncs/items/runs')).body).toEqual([])

    const list = await daemon.api<Array<Record<string, unknown>>>('/api/syncs')
    expect(list.status).toBe(200)
    expect(list.body).toEqual([
      expect.objectContaining({ id: 'items', mode: 'incremental', direction: 'one-way', schedule: null, running: false, lastRun: null, nextRunAt: null, watermark: null, lag: null }),
    ])
    expect(await daemon.api('/api/syncs/itmes')).toEqual({ status: 404, body: { error: { code: 'SYNC_NOT_FOUND', message: expect.stringContaining("Did you mean 'items'?") } } })
    expect((await daemon.api<{ error: { code: string } }>('/api/nothing')).body.error.code).toBe('NOT_FOUND')
    expect((await daemon.api<{ error: { code: string } }>('/api/syncs/items/runs?limit=0')).status).toBe(400)
    expect((await daemon.api<string>('/metrics')).body).toContain('# TYPE syncline_rows_read_total counter')
    expect(daemon.cli.stderr).not.toContain(TEST_TOKEN)
  }, 60_000)
})

describe('syncline serve: runs through the API', () => {
  it('starts a run (202 with its run id), refuses a second (409), and cancels it at a batch boundary', async () => {
    ws = itemsWorkspace()
    daemon = await startDaemon(ws.dir)
    const started = await daemon.api<{ runId: string }>('/api/syncs/items/run', { method: 'POST', body: {} })
    expect(started.status).toBe(202)
    const runId = started.body.runId
    expect(runId).toMatch(/^[0-9a-f-]{36}$/)
    // A JSON content type with no body is a run without options, like no body at all.
    const again = await daemon.api<{ error: { code: string } }>('/api/syncs/items/run', { method: 'POST', body: undefined })
    expect(again.status).toBe(409)
    expect(again.body.error.code).toBe('RUNNING')
    const listed = await daemon.api<{ running: boolean; status: string; run: { runId: string } }>('/api/syncs/items')
    expect(listed.body).toMatchObject({ running: true, status: 'running', run: { runId } })

    await waitFor(async () => (await written(daemon!)) > 0, 30_000, 'the first batches to land')
    const cancelled = await daemon.api<{ runId: string }>('/api/syncs/items/cancel', { method: 'POST' })
    expect(cancelled).toEqual({ status: 202, body: { runId } })
    const [run] = await waitFor(async () => {
      const runs = (await daemon!.api<Array<{ runId: string; status: string; created: number }>>('/api/syncs/items/runs')).body
      return runs[0]?.status === 'cancelled' ? runs : undefined
    }, 30_000, 'the run to end cancelled')
    expect(run).toMatchObject({ runId, status: 'cancelled', attempt: 1 })
    const landed = Number(ws.sqliteRows<{ n: number }>('dst.db', 'SELECT count(*) AS n FROM items')[0]!.n)
    expect(landed).toBeGreaterThan(0)
    expect(landed).toBeLessThan(ROWS)
    expect(landed % BATCH).toBe(0) // whole batches only
    expect(run!.created).toBe(landed)
    expect((await daemon.api<{ error: { code: string } }>('/api/syncs/items/cancel', { method: 'POST' })).body.error.code).toBe('NOT_RUNNING')
    expect((await daemon.api<{ running: boolean }>('/api/syncs/items')).body.running).toBe(false)

    // The next run carries on from the watermark.
    const next = await daemon.api<{ runId: string }>('/api/syncs/items/run', { method: 'POST' })
    expect(next.status).toBe(202)
    await waitFor(async () => (await daemon!.api<Array<{ runId: string; status: string }>>('/api/syncs/items/runs')).body.find((r) => r.runId === next.body.runId && r.status === 'succeeded'), 60_000, 'the second run')
    expect(Number(ws.sqliteRows<{ n: number }>('dst.db', 'SELECT count(*) AS n FROM items')[0]!.n)).toBe(ROWS)
    expect((await daemon.stop()).code).toBe(0)
  }, 120_000)

  it('answers 409 naming the process while a `syncline run` elsewhere holds the sync', async () => {
    ws = itemsWorkspace()
    const other = startCli(['run'], { cwd: ws.dir })
    cleanups.push(async () => {
      other.child.kill('SIGKILL')
      await other.done
    })
    await other.waitForStderr(/^items: changes /m)
    daemon = await startDaemon(ws.dir)
    const refused = await daemon.api<{ error: { code: string; message: string } }>('/api/syncs/items/run', { method: 'POST' })
    expect(refused.status).toBe(409)
    expect(refused.body.error).toMatchObject({ code: 'RUNNING', message: expect.stringContaining(`running in another process (pid ${other.child.pid}`) })
    expect((await daemon.api('/api/syncs/items')).body).toMatchObject({ running: false, runningElsewhere: { pid: other.child.pid } })
  }, 120_000)

  it('exits 0 on SIGTERM during a run, with the run recorded and its watermark saved', async () => {
    ws = itemsWorkspace()
    daemon = await startDaemon(ws.dir)
    const { body } = await daemon.api<{ runId: string }>('/api/syncs/items/run', { method: 'POST' })
    await waitFor(async () => (await written(daemon!)) > 0, 30_000, 'the first batches to land')
    const ended = await daemon.stop('SIGTERM')
    daemon = undefined
    expect(ended.code, ended.stderr).toBe(0)
    expect(ended.stderr).toContain('"msg":"stopped"')
    const landed = Number(ws.sqliteRows<{ n: number }>('dst.db', 'SELECT count(*) AS n FROM items')[0]!.n)
    expect(landed % BATCH).toBe(0)
    const status = jsonLines((await ws.run(['status', '--json'])).stdout)[0]
    expect(status).toMatchObject({ id: 'items', lastRun: { runId: body.runId, status: 'cancelled' }, watermark: { key: [landed] } })
  }, 120_000)
})

describe.skipIf(!pgAvailable && !required)('syncline serve: a datasource that is down', () => {
  it('starts anyway, says so in the sync status, and retries until it is back (each attempt in history)', async () => {
    ws = itemsWorkspace(false)
    const destination = await createPgDatabase('syncline_serve')
    cleanups.push(destination.drop)
    const port = await freePort()
    const through = new URL(destination.url)
    through.port = String(port)
    ws.write('syncline.yaml', `connections:
  src: { url: sqlite:./src.db }
  dst: { url: ${through.toString()} }
syncs:
  - id: items
    source: { connection: src, entity: items }
    destination: { connection: dst, entity: items, create: true }
    retries: 5
    retryDelay: 1s
`)
    daemon = await startDaemon(ws.dir)
    const { body } = await daemon.api<{ runId: string }>('/api/syncs/items/run', { method: 'POST' })
    const failing = await waitFor(async () => {
      const view = (await daemon!.api<{ status: string; problem: { code: string } | null }>('/api/syncs/items')).body
      return view.problem ? view : undefined
    }, 20_000, 'the first attempt to fail')
    expect(failing).toMatchObject({ status: 'retrying', problem: { code: 'CONNECTION_REFUSED', failure: 'transient' } })
    expect((await daemon.api('/ready')).status).toBe(200) // the daemon itself is fine

    const proxy: TcpProxy = await startProxy(port, { host: '127.0.0.1', port: Number(new URL(destination.url).port || 5432) })
    cleanups.push(() => proxy.close())
    const runs = await waitFor(async () => {
      const list = (await daemon!.api<Array<{ runId: string; status: string; attempt: number; errorCode?: string }>>('/api/syncs/items/runs')).body
      return list[0]?.status === 'succeeded' ? list : undefined
    }, 30_000, 'a retry to succeed')
    const attempts = [...runs].reverse()
    expect(attempts[0]).toMatchObject({ runId: body.runId, attempt: 1, status: 'failed', errorCode: 'CONNECTION_REFUSED' })
    expect(attempts.map((r) => r.attempt)).toEqual(attempts.map((_, i) => i + 1))
    expect(new Set(attempts.map((r) => r.runId)).size).toBe(attempts.length)
    expect(await pgQuery(destination.url, 'SELECT name FROM items')).toEqual([{ name: 'one' }])
    expect((await daemon.api('/api/syncs/items')).body).toMatchObject({ status: 'idle', problem: null })
    const metrics = (await daemon.api<string>('/metrics')).body
    expect(metrics).toMatch(/^syncline_run_retries_total\{sync="items"\} [1-9]/m)
    expect(metrics).toMatch(/^syncline_run_failures_total\{sync="items",code="CONNECTION_REFUSED"\} [1-9]/m)
    expect((await daemon.stop()).code).toBe(0)
  }, 90_000)

  it('answers /ready 503 with the reason while the state store is unreachable, and 200 again once it is back', async () => {
    ws = itemsWorkspace(false)
    const state = await createPgDatabase('syncline_serve_state')
    cleanups.push(state.drop)
    const port = await freePort()
    const target = { host: '127.0.0.1', port: Number(new URL(state.url).port || 5432) }
    let proxy = await startProxy(port, target)
    cleanups.push(() => proxy.close())
    const through = new URL(state.url)
    through.port = String(port)
    ws.write('syncline.yaml', `state: ${through.toString()}
connections:
  src: { url: sqlite:./src.db }
  dst: { url: sqlite:./dst.db }
syncs:
  - id: items
    source: { connection: src, entity: items }
    destination: { connection: dst, entity: items, create: true }
`)
    daemon = await startDaemon(ws.dir)
    expect((await daemon.api('/ready', { token: null })).status).toBe(200)
    await proxy.close()
    const down = await daemon.api<{ status: string; error: { code: string; message: string } }>('/ready', { token: null })
    expect(down.status).toBe(503)
    expect(down.body).toMatchObject({ status: 'unavailable', error: { code: 'NOT_READY', message: expect.stringContaining('The state store does not answer') } })
    expect((await daemon.api('/health', { token: null })).status).toBe(200)
    proxy = await startProxy(port, target)
    await waitFor(async () => (await daemon!.api('/ready', { token: null })).status === 200, 15_000, '/ready to recover')
    expect((await daemon.stop()).code).toBe(0)
  }, 60_000)
})
