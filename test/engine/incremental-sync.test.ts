/**
 * Incremental sync on the (cursor, key) watermark: equal cursor values across
 * batch boundaries, late commits (look-back and the open-transaction cap),
 * NULL cursors, soft and hard deletes, and a watermark that never passes a
 * batch the destination did not take.
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SyncPlanInput } from '../../src/plan/schema.js'
import { hasPostgres } from '../helpers/services.js'
import { openDatasource, type TestDatasource } from './datasources.js'
import { openManager, readAll } from './sync-harness.js'

const pgAvailable = await hasPostgres()
const KINDS = (pgAvailable ? ['sqlite', 'postgres'] : ['sqlite']) as ('sqlite' | 'postgres')[]

const timestampType = (kind: string) => (kind === 'postgres' ? 'timestamptz' : 'TIMESTAMP')

const eventsSync = (extra: Partial<SyncPlanInput> = {}): SyncPlanInput => ({
  id: 'events',
  source: { connection: 'src', entity: 'events' },
  destination: { connection: 'dst', entity: 'events', create: true },
  mode: 'incremental',
  cursor: 'updated_at',
  batchSize: 7,
  ...extra,
})

async function insertEvents(ds: TestDatasource, from: number, to: number, updatedAt: string | null, name = 'event'): Promise<void> {
  for (let id = from; id <= to; id++) await ds.exec(`INSERT INTO events (id, name, updated_at) VALUES (?, ?, ?)`, [id, `${name} ${id}`, updatedAt])
}

for (const kind of KINDS) {
  describe(`incremental sync ${kind} → ${kind}`, () => {
    let src: TestDatasource
    let dst: TestDatasource
    beforeAll(async () => {
      src = await openDatasource(kind, 'src')
      dst = await openDatasource(kind, 'dst')
      await src.exec(`CREATE TABLE events (id INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL, updated_at ${timestampType(kind)}, deleted_at ${timestampType(kind)})`)
    })
    afterAll(async () => {
      await src?.cleanup()
      await dst?.cleanup()
    })

    it('loses no row when many rows share one cursor value across batch boundaries', async () => {
      await insertEvents(src, 1, 50, '2026-01-01T00:00:00Z')
      const { manager, cleanup } = await openManager(src, dst, [eventsSync({ lookback: '0s' })])
      try {
        expect(await manager.run('events')).toMatchObject({ status: 'succeeded', read: 50, created: 50 })
        await insertEvents(src, 51, 80, '2026-01-01T00:00:00Z') // same cursor value as before, higher keys
        await insertEvents(src, 81, 90, '2026-01-01T00:00:01Z')
        const second = await manager.run('events')
        expect(second).toMatchObject({ status: 'succeeded', created: 40, updated: 0 })
        expect(second.read).toBe(40) // strictly after (cursor, key): nothing re-read without a look-back
        expect((await readAll(dst, 'events', ['id'])).map((r) => r.id)).toEqual(Array.from({ length: 90 }, (_, i) => i + 1))
      } finally {
        await cleanup()
      }
    })

    it('catches a row committed late with an older cursor value inside the look-back window', async () => {
      const { manager, cleanup } = await openManager(src, dst, [eventsSync({ lookback: '60s' })])
      try {
        await manager.run('events')
        // Committed now, but its cursor value was taken 30 s before the newest row already synced.
        await insertEvents(src, 91, 91, '2026-01-01T00:00:00.5Z', 'late')
        const result = await manager.run('events')
        expect(result).toMatchObject({ status: 'succeeded', created: 1, updated: 0 })
        expect(result.unchanged).toBeGreaterThan(0) // the window was re-read and compared, not rewritten
      } finally {
        await cleanup()
      }
    })

    it('syncs rows whose cursor is NULL, on the first run and after they change', async () => {
      const { manager, cleanup } = await openManager(src, dst, [eventsSync()])
      try {
        await insertEvents(src, 100, 104, null, 'no cursor')
        expect(await manager.run('events')).toMatchObject({ status: 'succeeded', created: 5 })
        await src.exec(`UPDATE events SET name = 'renamed' WHERE id = 102`)
        expect(await manager.run('events')).toMatchObject({ status: 'succeeded', created: 0, updated: 1 })
        expect((await readAll(dst, 'events', ['id'])).find((r) => r.id === 102)?.name).toBe('renamed')
      } finally {
        await cleanup()
      }
    })

    it('deletes soft-deleted rows and reconciles hard deletes', async () => {
      const { manager, cleanup } = await openManager(src, dst, [eventsSync({ softDelete: 'deleted_at' })])
      try {
        await manager.run('events')
        await src.exec(`UPDATE events SET deleted_at = '2026-02-01T00:00:00Z', updated_at = '2026-02-01T00:00:00Z' WHERE id = 5`)
        await src.exec(`DELETE FROM events WHERE id IN (6, 7)`)
        const result = await manager.run('events')
        expect(result).toMatchObject({ status: 'succeeded', deleted: 3 })
        const ids = (await readAll(dst, 'events', ['id'])).map((r) => r.id)
        expect(ids).not.toContain(5)
        expect(ids).not.toContain(6)
        expect(ids).not.toContain(7)
      } finally {
        await cleanup()
      }
    })

    it('resumes after a cancelled run from the last committed batch, without losing rows', async () => {
      await src.exec(`CREATE TABLE ticks (id INTEGER PRIMARY KEY, updated_at ${timestampType(kind)})`)
      for (let id = 1; id <= 100; id++) await src.exec(`INSERT INTO ticks VALUES (?, ?)`, [id, `2026-03-01T00:00:${String(Math.floor(id / 10)).padStart(2, '0')}Z`])
      // The filter keeps the first run on the row path (checkpoint per batch) rather than one bulk COPY.
      const sync: SyncPlanInput = { id: 'ticks', source: { connection: 'src', entity: 'ticks' }, destination: { connection: 'dst', entity: 'ticks', create: true }, mode: 'incremental', cursor: 'updated_at', batchSize: 10, lookback: '0s', filters: [{ field: 'id', op: '>', value: 0 }] }
      const { manager, cleanup } = await openManager(src, dst, [sync])
      try {
        const controller = new AbortController()
        const cancelled = await manager.run('ticks', {
          signal: controller.signal,
          onProgress: (p) => {
            if (p.phase === 'changes' && p.current >= 30) controller.abort()
          },
        })
        expect(cancelled.status).toBe('cancelled')
        const landed = (await readAll(dst, 'ticks', ['id'])).length
        expect(landed).toBeGreaterThan(0)
        expect(landed).toBeLessThan(100)
        const watermark = (await manager.status()).find((s) => s.syncId === 'ticks')?.watermark
        expect(watermark?.key?.[0]).toBe(landed) // the watermark is exactly at the last committed row

        const resumed = await manager.run('ticks')
        expect(resumed).toMatchObject({ status: 'succeeded', created: 100 - landed, updated: 0 })
        expect(await readAll(dst, 'ticks', ['id'])).toHaveLength(100)
      } finally {
        await cleanup()
      }
    })

    it('reads changes in pages of 1,000 rows and writes whole pages, at most 1,000 rows into a table holding rows', async () => {
      await src.exec(`CREATE TABLE pages (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL, updated_at ${timestampType(kind)} NOT NULL)`)
      await src.exec(
        kind === 'postgres'
          ? `INSERT INTO pages SELECT g, 'row ' || g, '2026-04-01T00:00:00Z' FROM generate_series(1, 3500) g`
          : `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3500) INSERT INTO pages SELECT i, 'row ' || i, '2026-04-01T00:00:00Z' FROM n`,
      )
      // The filter keeps the first run on the row path rather than one bulk COPY.
      const sync: SyncPlanInput = { id: 'pages', source: { connection: 'src', entity: 'pages' }, destination: { connection: 'dst', entity: 'pages', create: true }, mode: 'incremental', cursor: 'updated_at', batchSize: 2500, lookback: '0s', filters: [{ field: 'id', op: '>', value: 0 }] }
      const { manager, cleanup } = await openManager(src, dst, [sync])
      try {
        const writes: number[] = []
        const onPlanned = (_id: string, ops: readonly unknown[]) => writes.push(ops.length)
        // Into an empty table: whole 1,000-row pages gathered up to batchSize (2,500).
        expect(await manager.run('pages', { dryRun: true, onPlanned })).toMatchObject({ status: 'succeeded', created: 3500 })
        expect(writes).toEqual([2000, 1500])
        writes.length = 0
        expect(await manager.run('pages')).toMatchObject({ status: 'succeeded', created: 3500 })
        await src.exec(`UPDATE pages SET name = 'changed ' || id, updated_at = '2026-04-02T00:00:00Z'`)
        // Into a table holding rows: every page looked up, compared and written on its own.
        expect(await manager.run('pages', { dryRun: true, onPlanned })).toMatchObject({ status: 'succeeded', read: 3500, updated: 3500 })
        expect(writes).toEqual([1000, 1000, 1000, 500])
        expect(await manager.run('pages')).toMatchObject({ status: 'succeeded', read: 3500, updated: 3500 })
        expect((await manager.status()).find((s) => s.syncId === 'pages')?.watermark?.key?.[0]).toBe(3500)
        expect((await readAll(dst, 'pages', ['id'])).filter((r) => String(r.name).startsWith('changed '))).toHaveLength(3500)
        expect(await manager.run('pages')).toMatchObject({ status: 'succeeded', read: 0 })
      } finally {
        await cleanup()
      }
    })
  })
}

describe.skipIf(!pgAvailable)('incremental sync: rejected records and the watermark', () => {
  let src: TestDatasource
  let dst: TestDatasource
  beforeAll(async () => {
    src = await openDatasource('sqlite', 'src')
    dst = await openDatasource('postgres')
    await src.exec(`CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated_at TIMESTAMP NOT NULL)`)
    await dst.exec(`CREATE TABLE people (id bigint PRIMARY KEY, name varchar(10) NOT NULL, updated_at timestamptz NOT NULL)`)
  })
  afterAll(async () => {
    await src?.cleanup()
    await dst?.cleanup()
  })

  it('records a value the destination cannot hold, keeps the rest, and retries it next run', async () => {
    for (let id = 1; id <= 20; id++) await src.exec(`INSERT INTO people VALUES (?, ?, ?)`, [id, id === 12 ? 'a name far too long' : `p${id}`, `2026-01-01T00:00:${String(id).padStart(2, '0')}Z`])
    const sync: SyncPlanInput = { id: 'people', source: { connection: 'src', entity: 'people' }, destination: { connection: 'dst', entity: 'people' }, mode: 'incremental', cursor: 'updated_at', batchSize: 5, lookback: '0s', maxErrors: 3 }
    const { manager, cleanup } = await openManager(src, dst, [sync])
    try {
      const first = await manager.run('people')
      expect(first).toMatchObject({ status: 'partial', created: 19, failed: 1 })
      const errors = await manager.recordErrors({ syncId: 'people' })
      expect(errors).toHaveLength(1)
      expect(errors[0]).toMatchObject({ recordId: '12', operation: 'create' })
      expect(errors[0]!.reason).toMatch(/name/)
      expect(errors[0]!.reason).toMatch(/10/)
      // The watermark stays before the batch that held row 12 (rows 11-15).
      const watermark = (await manager.status()).find((s) => s.syncId === 'people')?.watermark
      expect(watermark?.key?.[0]).toBe(10)

      // Fix the data without touching its cursor: the next run still finds it.
      await src.exec(`UPDATE people SET name = 'fixed' WHERE id = 12`)
      const second = await manager.run('people')
      expect(second).toMatchObject({ status: 'succeeded', created: 1, failed: 0 })
      expect((await readAll(dst, 'people', ['id'])).find((r) => r.id === 12)?.name).toBe('fixed')
    } finally {
      await cleanup()
    }
  })

  it('fails fast with maxErrors 0 and names the record and the reason', async () => {
    await src.exec(`INSERT INTO people VALUES (?, ?, ?)`, [21, 'another long name', '2026-01-01T00:01:00Z'])
    const sync: SyncPlanInput = { id: 'people', source: { connection: 'src', entity: 'people' }, destination: { connection: 'dst', entity: 'people' }, mode: 'incremental', cursor: 'updated_at', batchSize: 5 }
    const { manager, cleanup } = await openManager(src, dst, [sync])
    try {
      const result = await manager.run('people')
      expect(result.status).toBe('failed')
      expect(result.errorCode).toBe('ERROR_BUDGET_EXCEEDED')
      expect(result.error).toMatch(/Record 21/)
    } finally {
      await cleanup()
    }
  })
})

describe.skipIf(!pgAvailable)('incremental sync: transactions open during the scan', () => {
  let src: TestDatasource
  let dst: TestDatasource
  beforeAll(async () => {
    src = await openDatasource('postgres')
    dst = await openDatasource('sqlite', 'dst')
    await src.exec(`CREATE TABLE orders (id bigint PRIMARY KEY, total numeric(12,2), updated_at timestamptz NOT NULL DEFAULT now())`)
  })
  afterAll(async () => {
    await src?.cleanup()
    await dst?.cleanup()
  })

  it('caps the watermark at the oldest open transaction, so its rows are caught after commit even without a look-back', async () => {
    const sync: SyncPlanInput = { id: 'orders', source: { connection: 'src', entity: 'orders' }, destination: { connection: 'dst', entity: 'orders', create: true }, mode: 'incremental', cursor: 'updated_at', lookback: '0s' }
    const { manager, cleanup } = await openManager(src, dst, [sync])
    const slow = new pg.Client({ connectionString: src.url })
    await slow.connect()
    try {
      await src.exec(`INSERT INTO orders (id, total) VALUES (1, 10)`)
      // A transaction that takes its cursor value (now() = its start) and commits late.
      await slow.query('BEGIN')
      await slow.query(`INSERT INTO orders (id, total) VALUES (2, 20)`)
      await new Promise((r) => setTimeout(r, 50))
      await src.exec(`INSERT INTO orders (id, total) VALUES (3, 30)`) // newer cursor, committed first
      expect(await manager.run('orders')).toMatchObject({ status: 'succeeded', created: 2 })
      await slow.query('COMMIT')
      const after = await manager.run('orders')
      expect(after).toMatchObject({ status: 'succeeded', created: 1 })
      expect((await readAll(dst, 'orders', ['id'])).map((r) => r.id)).toEqual([1, 2, 3])
    } finally {
      await slow.end()
      await cleanup()
    }
  })
})
