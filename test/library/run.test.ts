/**
 * Running syncs through SyncManager: progress reports a caller can draw
 * (percent reaching 100 when the count is known), `progress` and `run`
 * events, cancellation through an AbortSignal (before the start, and from a
 * timer while a run is busy), dry runs, and failures as results.
 */
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Progress } from '../../src/engine/progress.js'
import type { SyncResult } from '../../src/engine/run-sync.js'
import type { SyncPlanInput } from '../../src/plan/schema.js'
import { SyncManager } from '../../src/sync-manager.js'
import { openDatasource, type TestDatasource } from '../engine/datasources.js'
import { readAll } from '../engine/sync-harness.js'
import { hasPostgres, tempDir } from '../helpers/services.js'

const pgAvailable = await hasPostgres()
const DESTINATIONS = (pgAvailable ? ['sqlite', 'postgres'] : ['sqlite']) as ('sqlite' | 'postgres')[]
const ROWS = 25

for (const destinationKind of DESTINATIONS) {
  describe(`SyncManager.run, SQLite → ${destinationKind}`, () => {
    let src: TestDatasource
    let dst: TestDatasource
    let state: { path: string; remove: () => void }
    let manager: SyncManager

    const sync = (extra: Partial<SyncPlanInput> = {}): SyncPlanInput => ({
      id: 'tracks',
      source: { connection: 'src', entity: 'tracks' },
      destination: { connection: 'dst', entity: 'tracks', create: true },
      batchSize: 10,
      ...extra,
    })

    beforeAll(async () => {
      src = await openDatasource('sqlite', 'src')
      dst = await openDatasource(destinationKind, 'dst')
      await src.exec(`CREATE TABLE tracks (id INTEGER PRIMARY KEY, title TEXT NOT NULL, updated_at TEXT NOT NULL)`)
      for (let id = 1; id <= ROWS; id++) await src.exec(`INSERT INTO tracks VALUES (?, ?, ?)`, [id, `Track ${id}`, `2026-01-01T00:00:${String(id).padStart(2, '0')}.000000Z`])
      state = tempDir('syncline-library-state-')
    })
    afterAll(async () => {
      await src?.cleanup()
      await dst?.cleanup()
      state?.remove()
    })
    afterEach(() => manager?.close())

    const open = (syncs: SyncPlanInput[]) =>
      SyncManager.open({ config: { state: join(state.path, 'state.db'), connections: { src: { url: src.url }, dst: { url: dst.url } }, syncs }, baseDir: state.path })

    it('does nothing but record a cancelled run when the signal is aborted before the start', async () => {
      manager = await open([sync()])
      const controller = new AbortController()
      controller.abort()
      const result = await manager.run('tracks', { signal: controller.signal })
      expect(result).toMatchObject({ id: 'tracks', status: 'cancelled', created: 0, read: 0 })
      expect((await manager.history('tracks'))[0]).toMatchObject({ runId: result.runId, status: 'cancelled' })
      const written = await dst.query(`SELECT 1 FROM tracks`).catch(() => [])
      expect(written).toEqual([])
    })

    it('reports progress with current, total, percent and message, reaching 100 %, and emits progress and run events', async () => {
      manager = await open([sync()])
      const reports: Progress[] = []
      const events: Progress[] = []
      const runs: SyncResult[] = []
      manager.on('progress', (p: Progress) => events.push(p))
      manager.on('run', (r: SyncResult) => runs.push(r))

      const result = await manager.run('tracks', { onProgress: (p) => reports.push(p) })
      expect(result).toMatchObject({ status: 'succeeded', read: ROWS, created: ROWS, failed: 0 })

      const copy = reports.filter((p) => p.phase === 'copy')
      expect(copy.length).toBeGreaterThanOrEqual(3) // 25 rows in batches of 10
      for (const p of copy) {
        expect(p).toMatchObject({ syncId: 'tracks', current: expect.any(Number), total: ROWS, percent: expect.any(Number), message: expect.any(String) })
        expect(p.percent).toBeGreaterThanOrEqual(0)
        expect(p.percent).toBeLessThanOrEqual(100)
      }
      expect(copy.map((p) => p.percent)).toEqual([...copy.map((p) => p.percent!)].sort((a, b) => a - b))
      expect(copy.at(-1)).toMatchObject({ current: ROWS, percent: 100 })
      expect(reports.at(-1)).toMatchObject({ phase: 'done', counts: expect.objectContaining({ created: ROWS }) })

      expect(events).toEqual(reports) // the same reports, to every listener
      expect(runs).toEqual([result])
      expect((await readAll(dst, 'tracks', ['id'])).map((r) => Number(r.id))).toEqual(Array.from({ length: ROWS }, (_, i) => i + 1))
    })

    it('dryRun reports the work and writes nothing', async () => {
      manager = await open([sync()])
      await src.exec(`UPDATE tracks SET title = 'Renamed' WHERE id = 5`)
      await src.exec(`INSERT INTO tracks VALUES (26, 'Track 26', '2026-01-01T00:01:00.000000Z')`)
      const before = await readAll(dst, 'tracks', ['id'])
      const dry = await manager.run('tracks', { dryRun: true })
      expect(dry).toMatchObject({ status: 'succeeded', dryRun: true, created: 1, updated: 1, unchanged: ROWS - 1 })
      expect(await readAll(dst, 'tracks', ['id'])).toEqual(before)
      expect(await manager.run('tracks')).toMatchObject({ created: 1, updated: 1 })
    })

    it('resolves with a failed result (not a rejection) when the sync cannot run', async () => {
      manager = await open([sync({ id: 'broken', source: { connection: 'src', entity: 'trakcs' } })])
      const runs: SyncResult[] = []
      manager.on('run', (r: SyncResult) => runs.push(r))
      const result = await manager.run('broken')
      expect(result).toMatchObject({ status: 'failed', errorCode: 'ENTITY_NOT_FOUND', failure: 'config', error: expect.stringContaining("Did you mean 'tracks'?") })
      expect(runs).toEqual([result])
      expect((await manager.status()).find((s) => s.syncId === 'broken')?.lastRun).toMatchObject({ status: 'failed' })
    })
  })
}

describe('cancelling a busy SQLite → SQLite run from a timer', () => {
  let dir: { path: string; remove: () => void }
  afterAll(() => dir?.remove())

  it('stops at a batch boundary although every SQLite call is synchronous, and resumes', async () => {
    dir = tempDir('syncline-library-abort-')
    const rows = 50_000
    const db = new Database(join(dir.path, 'src.db'))
    db.exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated_at TEXT NOT NULL)`)
    const insert = db.prepare(`INSERT INTO items VALUES (?, ?, ?)`)
    db.transaction(() => {
      for (let id = 1; id <= rows; id++) insert.run(id, `item ${id}`, new Date(Date.UTC(2026, 0, 1) + id * 1000).toISOString())
    })()
    db.close()
    new Database(join(dir.path, 'dst.db')).close()
    const manager = await SyncManager.open({
      config: {
        connections: { src: { url: 'sqlite:./src.db' }, dst: { url: 'sqlite:./dst.db' } },
        syncs: [{ id: 'items', source: { connection: 'src', entity: 'items' }, destination: { connection: 'dst', entity: 'items', create: true }, mode: 'incremental', cursor: 'updated_at', batchSize: 500 }],
      },
      baseDir: dir.path,
    })
    try {
      const controller = new AbortController()
      let scheduled = false
      const result = await manager.run('items', {
        signal: controller.signal,
        onProgress: (p) => {
          // A timer, not a direct abort: it only fires if the run yields to the event loop.
          if (p.phase === 'changes' && p.current > 0 && !scheduled) {
            scheduled = true
            setTimeout(() => controller.abort(), 0)
          }
        },
      })
      expect(result.status).toBe('cancelled')
      expect(result.created).toBeGreaterThan(0)
      expect(result.created).toBeLessThan(rows)

      const resumed = await manager.run('items')
      expect(resumed).toMatchObject({ status: 'succeeded', failed: 0 })
      expect(result.created + resumed.created).toBe(rows)
    } finally {
      await manager.close()
    }
  })
})
