/**
 * `manager.run` holds the sync's run lock as `syncline run` does: a second
 * manager (here in the same process) running the same sync meanwhile gets a
 * `failed` result with `LOCKED`, other syncs run, and the first run is never
 * taken for dead. The first run waits for real: the test holds an ACCESS
 * EXCLUSIVE lock on its PostgreSQL source table.
 */
import pg from 'pg'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { SyncPlanInput } from '../../src/plan/schema.js'
import { RUN_LOCK_HEARTBEAT_MS } from '../../src/state/run-lock.js'
import { openSqliteStateStore } from '../../src/state/sqlite-state-store.js'
import { SyncManager } from '../../src/sync-manager.js'
import { postgresDatasource, sqliteDatasource, type TestDatasource } from '../engine/datasources.js'
import { hasPostgres, tempDir } from '../helpers/services.js'

const pgAvailable = await hasPostgres()

describe.skipIf(!pgAvailable)('SyncManager.run and the run lock', () => {
  let src: TestDatasource
  let dst: TestDatasource
  let state: ReturnType<typeof tempDir>
  let locker: pg.Client | undefined
  const managers: SyncManager[] = []

  const sync = (id: string, entity: string): SyncPlanInput => ({ id, source: { connection: 'src', entity }, destination: { connection: 'dst', entity, create: true } })
  const open = async () => {
    const manager = await SyncManager.open({
      config: { state: join(state.path, 'state.db'), connections: { src: { url: src.url }, dst: { url: dst.url } }, syncs: [sync('items', 'items'), sync('others', 'others')] },
      baseDir: state.path,
    })
    managers.push(manager)
    return manager
  }

  beforeAll(async () => {
    src = await postgresDatasource()
    dst = sqliteDatasource('dst')
    await src.exec(`CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL)`)
    await src.exec(`INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 30) g`)
    await src.exec(`CREATE TABLE others (id integer PRIMARY KEY)`)
    await src.exec(`INSERT INTO others VALUES (1), (2), (3)`)
    state = tempDir('syncline-library-lock-')
  })
  afterEach(async () => {
    await locker?.query('COMMIT').catch(() => undefined)
    await locker?.end().catch(() => undefined)
    locker = undefined
    await Promise.all(managers.splice(0).map((m) => m.close()))
  })
  afterAll(async () => {
    await src?.cleanup()
    await dst?.cleanup()
    state?.remove()
  })

  /** Hold the source table so a run of `items` waits inside its scan. */
  async function holdSource(): Promise<pg.Client> {
    locker = new pg.Client({ connectionString: src.url })
    await locker.connect()
    await locker.query('BEGIN')
    await locker.query('LOCK TABLE items IN ACCESS EXCLUSIVE MODE')
    return locker
  }
  async function waitUntilBlocked(): Promise<void> {
    for (let i = 0; i < 300; i++) {
      const [row] = await src.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'items' AND NOT l.granted`,
      )
      if (Number(row!.n) > 0) return
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error('the run never reached the source table')
  }

  it('gives a second run of a running sync a failed LOCKED result and leaves the first alone', async () => {
    const locker = await holdSource()
    const first = await open()
    const running = first.run('items')
    await waitUntilBlocked()

    const second = await open()
    const refused = await second.run('items')
    expect(refused).toMatchObject({ id: 'items', status: 'failed', errorCode: 'LOCKED', failure: 'transient', read: 0 })
    expect(refused.error).toMatch(new RegExp(`^Sync 'items' is already running \\(pid ${process.pid} on host `))
    expect(await second.run('others')).toMatchObject({ status: 'succeeded', created: 3 })
    // Looking at the state never takes a live run for dead.
    expect((await second.history('items'))[0]).toMatchObject({ status: 'running' })

    await locker.query('COMMIT')
    expect(await running).toMatchObject({ status: 'succeeded', created: 30 })
    expect(await second.run('items')).toMatchObject({ status: 'succeeded', unchanged: 30 })
    expect((await second.history('items')).map((r) => r.status)).toEqual(['succeeded', 'succeeded'])
  })

  it('stops a run whose lock another machine took over, failing it with LOCKED instead of writing alongside', async () => {
    // Rows the run would write if it went on.
    await src.exec(`INSERT INTO items SELECT g, 'item ' || g FROM generate_series(31, 40) g`)
    const locker = await holdSource()
    const manager = await open()
    const running = manager.run('items')
    await waitUntilBlocked()

    // Another machine judged it dead (its heartbeats stopped reaching the store, say) and took over.
    const other = openSqliteStateStore(join(state.path, 'state.db'))
    try {
      const held = (await other.getRunLock('items'))!
      const now = new Date().toISOString()
      const taker = { syncId: 'items', runId: 'taker-run', pid: 77, host: 'worker-elsewhere', acquiredAt: now, heartbeatAt: now }
      expect(await other.claimRunLock(taker, held)).toBe(true)
      // The run learns it at its next heartbeat.
      await new Promise((r) => setTimeout(r, RUN_LOCK_HEARTBEAT_MS + 1000))
      await locker.query('COMMIT')
      const result = await running
      expect(result).toMatchObject({ status: 'failed', errorCode: 'LOCKED', created: 0 })
      expect(await dst.query('SELECT id FROM items WHERE id > 30')).toEqual([])
      expect(result.error).toContain("Sync 'items' lost its run lock to pid 77 on host worker-elsewhere")
      expect((await manager.history('items'))[0]).toMatchObject({ runId: result.runId, status: 'failed', error: result.error })
      // The new holder's lock stays.
      expect(await other.getRunLock('items')).toMatchObject({ runId: 'taker-run' })
    } finally {
      await other.close()
    }
  }, 60_000)
})
