/**
 * Retries of transient failures (`retries`, `retryDelay`): a destination
 * that refuses connections at the first attempt and is reachable at the
 * next is retried after a backoff, and every attempt is its own entry in
 * run history (attempt 1 failed, attempt 2 succeeded), in SQLite and
 * PostgreSQL state stores alike. Config errors are never retried.
 */
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { SyncResult } from '../../src/engine/run-sync.js'
import type { PlanInput } from '../../src/plan/schema.js'
import { MAX_RETRY_DELAY_MS, retryDelayMs } from '../../src/scheduler/retry.js'
import { SyncManager } from '../../src/sync-manager.js'
import { createPgDatabase, hasPostgres, pgQuery, tempDir } from '../helpers/services.js'
import { freePort, startProxy, type TcpProxy } from '../helpers/tcp-proxy.js'

const pgAvailable = await hasPostgres()
const required = process.env.SYNCLINE_TEST_SERVICES === 'required'

describe('retryDelayMs', () => {
  it('doubles from retryDelay, keeps at least half of it (jitter), and caps at 5 minutes', () => {
    expect(retryDelayMs(1, 1000, () => 0)).toBe(500)
    expect(retryDelayMs(1, 1000, () => 1)).toBe(1000)
    expect(retryDelayMs(3, 1000, () => 0)).toBe(2000)
    expect(retryDelayMs(3, 1000, () => 1)).toBe(4000)
    expect(retryDelayMs(30, 1000, () => 1)).toBe(MAX_RETRY_DELAY_MS)
    expect(retryDelayMs(30, 1000, () => 0)).toBe(MAX_RETRY_DELAY_MS / 2)
  })
})

describe.skipIf(!pgAvailable && !required)('a run that fails transiently', () => {
  const cleanups: Array<() => Promise<void> | void> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  async function setup(stateKind: 'sqlite' | 'postgres', destinationPort: number) {
    const dir = tempDir('syncline-retry-')
    cleanups.push(dir.remove)
    const source = new Database(join(dir.path, 'src.db'))
    source.exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL); INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three')`)
    source.close()
    const destination = await createPgDatabase('syncline_retry')
    cleanups.push(destination.drop)
    let state = join(dir.path, 'state.db')
    if (stateKind === 'postgres') {
      const stateDb = await createPgDatabase('syncline_retry_state')
      cleanups.push(stateDb.drop)
      state = stateDb.url
    }
    const through = new URL(destination.url)
    through.port = String(destinationPort)
    const plan = (extra: Record<string, unknown> = {}): PlanInput => ({
      state,
      connections: { src: { url: 'sqlite:./src.db' }, dst: { url: through.toString() } },
      syncs: [{ id: 'items', source: { connection: 'src', entity: 'items' }, destination: { connection: 'dst', entity: 'items', create: true }, retries: 3, retryDelay: '200ms', ...extra }],
    })
    return { dir: dir.path, destination, plan }
  }

  for (const stateKind of ['sqlite', 'postgres'] as const) {
    it(`is retried once the destination is reachable, each attempt in history (state in ${stateKind})`, async () => {
      const port = await freePort()
      const { dir, destination, plan } = await setup(stateKind, port)
      const manager = await SyncManager.open({ config: plan(), baseDir: dir })
      cleanups.push(() => manager.close())
      let proxy: TcpProxy | undefined
      cleanups.push(() => proxy?.close())
      const retries: Array<{ failed: SyncResult; delayMs: number }> = []
      const result = await manager.run('items', {
        onRetry: async (failed, delayMs) => {
          retries.push({ failed, delayMs })
          // The datasource comes back while the run waits to retry.
          if (!proxy) proxy = await startProxy(port, { host: '127.0.0.1', port: Number(new URL(destination.url).port || 5432) })
        },
      })
      expect(result).toMatchObject({ status: 'succeeded', attempt: 2, created: 3 })
      expect(retries).toHaveLength(1)
      expect(retries[0]!.failed).toMatchObject({ status: 'failed', attempt: 1, errorCode: 'CONNECTION_REFUSED', failure: 'transient' })
      expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(100)
      expect(retries[0]!.delayMs).toBeLessThanOrEqual(200)

      const history = await manager.history('items')
      expect(history.map((r) => [r.attempt ?? 1, r.status, r.errorCode])).toEqual([
        [2, 'succeeded', undefined],
        [1, 'failed', 'CONNECTION_REFUSED'],
      ])
      expect(history[0]!.runId).toBe(result.runId)
      expect(history[1]!.runId).not.toBe(history[0]!.runId)
      expect(Date.parse(history[0]!.startedAt)).toBeGreaterThanOrEqual(Date.parse(history[1]!.finishedAt!) + 100)
      expect(await pgQuery(destination.url, 'SELECT id::int AS id, name FROM items ORDER BY id')).toEqual([
        { id: 1, name: 'one' },
        { id: 2, name: 'two' },
        { id: 3, name: 'three' },
      ])
    })
  }

  it('gives up after `retries` more attempts, each recorded, and never retries a config error', async () => {
    const port = await freePort()
    const { dir, plan } = await setup('sqlite', port)
    const manager = await SyncManager.open({ config: plan({ retries: 2, retryDelay: '50ms' }), baseDir: dir })
    cleanups.push(() => manager.close())
    const result = await manager.run('items')
    expect(result).toMatchObject({ status: 'failed', attempt: 3, errorCode: 'CONNECTION_REFUSED' })
    expect((await manager.history('items')).map((r) => r.attempt ?? 1)).toEqual([3, 2, 1])

    const bad = await SyncManager.open({
      config: { ...plan(), syncs: [{ ...plan().syncs![0]!, id: 'missing', source: { connection: 'src', entity: 'nothing_here' } }] },
      baseDir: dir,
    })
    cleanups.push(() => bad.close())
    let retried = false
    const failed = await bad.run('missing', { onRetry: () => (retried = true) })
    expect(failed).toMatchObject({ status: 'failed', attempt: 1, errorCode: 'ENTITY_NOT_FOUND', failure: 'config' })
    expect(retried).toBe(false)
    expect((await bad.history('missing')).map((r) => r.attempt ?? 1)).toEqual([1])
  })

  it('stops waiting to retry when the run is cancelled', async () => {
    const port = await freePort()
    const { dir, plan } = await setup('sqlite', port)
    const manager = await SyncManager.open({ config: plan({ retryDelay: '60s' }), baseDir: dir })
    cleanups.push(() => manager.close())
    const controller = new AbortController()
    const started = Date.now()
    const result = await manager.run('items', { signal: controller.signal, onRetry: () => controller.abort() })
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(result).toMatchObject({ status: 'failed', attempt: 1 })
    expect(await manager.history('items')).toHaveLength(1)
  })
})
