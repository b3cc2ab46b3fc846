/**
 * The bulk path of a first full copy between PostgreSQL databases: taken
 * when it writes exactly what the row path would, refused otherwise, and
 * falling back to row-by-row writing (with per-record errors) when the
 * destination rejects a value.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Progress } from '../../src/engine/progress.js'
import type { SyncPlanInput } from '../../src/plan/schema.js'
import { hasMysql, hasPostgres } from '../helpers/services.js'
import { openDatasource, type TestDatasource } from './datasources.js'
import { openManager, readAll } from './sync-harness.js'

const pgAvailable = await hasPostgres()

const sync = (id: string, destination: string, extra: Partial<SyncPlanInput> = {}): SyncPlanInput => ({
  id,
  source: { connection: 'src', entity: 'things' },
  destination: { connection: 'dst', entity: destination, create: true },
  ...extra,
})

describe.skipIf(!pgAvailable)('bulk copy PostgreSQL → PostgreSQL', () => {
  let src: TestDatasource
  let dst: TestDatasource
  beforeAll(async () => {
    src = await openDatasource('postgres')
    dst = await openDatasource('postgres')
    await src.exec(`CREATE TABLE things (id bigint PRIMARY KEY, label text, amount numeric(20,6), ratio double precision, at timestamptz, day date, doc jsonb, raw bytea, ref uuid, flag boolean, small integer, tags text[], nums bigint[])`)
    await src.exec(`INSERT INTO things SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE E'line\\nnext\\ttab \\\\ back "q" ' || g END, g * 1.000001, g / 3.0, '2026-01-01T00:00:00.123456Z'::timestamptz + g * interval '1 second',
                      date '1900-01-01' + g, jsonb_build_object('b', g, 'a', 'x'), decode('00ff' || lpad(to_hex(g), 4, '0'), 'hex'), md5(g::text)::uuid, g % 2 = 0, g,
                      CASE WHEN g % 5 = 0 THEN '{}' ELSE ARRAY['a,' || g, E'q"\\\\b', NULL, 'NULL'] END, ARRAY[g, -g, 9007199254740993]
                    FROM generate_series(1, 3000) g`)
  })
  afterAll(async () => {
    await src?.cleanup()
    await dst?.cleanup()
  })

  it('copies a first full sync in bulk, exactly as the row path would write it', async () => {
    const { manager, cleanup } = await openManager(src, dst, [sync('bulk', 'things_bulk'), sync('rows', 'things_rows', { filters: [{ field: 'id', op: '>', value: 0 }] })])
    try {
      const messages: string[] = []
      const first = await manager.run('bulk', { onProgress: (p: Progress) => messages.push(p.message) })
      expect(first).toMatchObject({ status: 'succeeded', read: 3000, created: 3000 })
      expect(messages.some((m) => m.includes('in bulk'))).toBe(true)

      // The same rows through the row path (a filter rules out the bulk path).
      const rowMessages: string[] = []
      expect(await manager.run('rows', { onProgress: (p: Progress) => rowMessages.push(p.message) })).toMatchObject({ status: 'succeeded', created: 3000 })
      expect(rowMessages.some((m) => m.includes('in bulk'))).toBe(false)
      expect(await readAll(dst, 'things_bulk', ['id'])).toEqual(await readAll(dst, 'things_rows', ['id']))

      // Re-reading finds nothing to change: every value landed exactly.
      expect(await manager.run('bulk')).toMatchObject({ status: 'succeeded', created: 0, updated: 0, unchanged: 3000 })
    } finally {
      await cleanup()
    }
  })

  it('copies in binary COPY, exactly, into columns of the same types as the source', async () => {
    await dst.exec(`CREATE TABLE things_same (id bigint PRIMARY KEY, label text, amount numeric(20,6), ratio double precision, at timestamptz, day date, doc jsonb, raw bytea, ref uuid, flag boolean, small integer, tags text[], nums bigint[])`)
    const { manager, cleanup } = await openManager(src, dst, [sync('same', 'things_same')])
    try {
      const messages: string[] = []
      expect(await manager.run('same', { onProgress: (p: Progress) => messages.push(p.message) })).toMatchObject({ status: 'succeeded', read: 3000, created: 3000 })
      expect(messages.some((m) => m.includes('3000 rows copied in bulk (postgres-copy-binary)'))).toBe(true)
      expect(await readAll(dst, 'things_same', ['id'])).toEqual(await readAll(src, 'things', ['id']))
      expect(await manager.run('same')).toMatchObject({ status: 'succeeded', created: 0, updated: 0, unchanged: 3000 })
    } finally {
      await cleanup()
    }
  })

  it('copies in COPY text, exactly, into columns of wider types than the source (binary needs the same types)', async () => {
    await dst.exec(`CREATE TABLE things_wider (id bigint PRIMARY KEY, label text, amount numeric(20,6), ratio double precision, at timestamptz, day date, doc jsonb, raw bytea, ref uuid, flag boolean, small bigint, tags text[], nums bigint[])`)
    const { manager, cleanup } = await openManager(src, dst, [sync('wider', 'things_wider')])
    try {
      const messages: string[] = []
      expect(await manager.run('wider', { onProgress: (p: Progress) => messages.push(p.message) })).toMatchObject({ status: 'succeeded', read: 3000, created: 3000 })
      expect(messages.some((m) => m.includes('in bulk (postgres-copy-text)'))).toBe(true)
      expect(await readAll(dst, 'things_wider', ['id'])).toEqual(await readAll(src, 'things', ['id']))
      expect(await manager.run('wider')).toMatchObject({ status: 'succeeded', created: 0, updated: 0, unchanged: 3000 })
    } finally {
      await cleanup()
    }
  })

  it('does not bulk copy into a column that would cut values, and reports each rejected record', async () => {
    await dst.exec(`CREATE TABLE things_narrow (id bigint PRIMARY KEY, label varchar(20))`)
    const { manager, cleanup } = await openManager(src, dst, [sync('narrow', 'things_narrow', { maxErrors: 5000 })])
    try {
      const result = await manager.run('narrow')
      // Labels are 24+ characters except the NULL ones (every 7th row).
      expect(result).toMatchObject({ status: 'partial', created: 428 })
      expect(result.failed).toBe(3000 - 428)
      const errors = await manager.recordErrors({ syncId: 'narrow', limit: 1 })
      expect(errors[0]!.reason).toMatch(/label/)
      expect(errors[0]!.reason).toMatch(/20/)
    } finally {
      await cleanup()
    }
  })

  it('falls back to row by row when the destination rejects a value during the copy', async () => {
    await dst.exec(`CREATE TABLE things_checked (id bigint PRIMARY KEY, small integer CHECK (small <> 1234))`)
    const { manager, cleanup } = await openManager(src, dst, [sync('checked', 'things_checked', { maxErrors: 1 })])
    try {
      const messages: string[] = []
      const result = await manager.run('checked', { onProgress: (p: Progress) => messages.push(p.message) })
      expect(messages.some((m) => m.includes('copying row by row'))).toBe(true)
      expect(result).toMatchObject({ status: 'partial', created: 2999, failed: 1 })
      expect((await manager.recordErrors({ syncId: 'checked' }))[0]).toMatchObject({ recordId: '1234', operation: 'create' })
      expect(await readAll(dst, 'things_checked', ['id'])).toHaveLength(2999)
    } finally {
      await cleanup()
    }
  })
})

describe.skipIf(!pgAvailable)('bulk copy SQLite → PostgreSQL', () => {
  let src: TestDatasource
  let dst: TestDatasource
  beforeAll(async () => {
    src = await openDatasource('sqlite', 'src')
    dst = await openDatasource('postgres')
    await src.exec(`CREATE TABLE things (id INTEGER PRIMARY KEY, label VARCHAR(40), amount DECIMAL(12,2), at TIMESTAMP, flag BOOLEAN, doc JSON, raw BLOB)`)
    for (let id = 1; id <= 500; id++) {
      const at = id % 3 === 0 ? `2026-01-01 10:00:${String(id % 60).padStart(2, '0')}` : new Date(Date.UTC(2026, 0, 1, 0, 0, id)).toISOString()
      await src.exec(`INSERT INTO things VALUES (?, ?, ?, ?, ?, ?, ?)`, [id, id % 5 === 0 ? null : `tab\there ${id}`, (id * 1.25) % 1000, at, id % 2, `{"b":${id},"a":[1,2]}`, Buffer.from([0, id % 256, 255])])
    }
  })
  afterAll(async () => {
    await src?.cleanup()
    await dst?.cleanup()
  })

  it('copies in bulk exactly what the row path writes', async () => {
    const { manager, cleanup } = await openManager(src, dst, [sync('bulk', 'things_bulk'), sync('rows', 'things_rows', { filters: [{ field: 'id', op: '>', value: 0 }] })])
    try {
      const messages: string[] = []
      expect(await manager.run('bulk', { onProgress: (p: Progress) => messages.push(p.message) })).toMatchObject({ status: 'succeeded', created: 500 })
      expect(messages.some((m) => m.includes('in bulk'))).toBe(true)
      expect(await manager.run('rows')).toMatchObject({ status: 'succeeded', created: 500 })
      expect(await readAll(dst, 'things_bulk', ['id'])).toEqual(await readAll(dst, 'things_rows', ['id']))
      expect(await manager.run('bulk')).toMatchObject({ status: 'succeeded', unchanged: 500, updated: 0 })
    } finally {
      await cleanup()
    }
  })

  it('falls back to exact row-by-row reading for an integer beyond 2^53 and reports a decimal past its declared scale', async () => {
    await src.exec(`CREATE TABLE odd (id INTEGER PRIMARY KEY, big INTEGER, amount DECIMAL(12,2))`)
    await src.exec(`INSERT INTO odd VALUES (1, 9007199254740993, 1.25), (2, 5, 1.25), (3, 6, 1.005)`)
    const odd: SyncPlanInput = { id: 'odd', source: { connection: 'src', entity: 'odd' }, destination: { connection: 'dst', entity: 'odd', create: true }, maxErrors: 1 }
    const { manager, cleanup } = await openManager(src, dst, [odd])
    try {
      const messages: string[] = []
      const result = await manager.run('odd', { onProgress: (p: Progress) => messages.push(p.message) })
      expect(messages.some((m) => m.includes('copying row by row'))).toBe(true)
      expect(result).toMatchObject({ status: 'partial', created: 2, failed: 1 })
      expect((await manager.recordErrors({ syncId: 'odd' }))[0]).toMatchObject({ recordId: '3' })
      expect((await readAll(dst, 'odd', ['id']))[0]).toMatchObject({ id: 1, big: 9007199254740993n })
    } finally {
      await cleanup()
    }
  })
})

const mysqlAvailable = await hasMysql()
const FIRST_RUN_SOURCES = [...(['postgres', 'sqlite'] as const), ...(mysqlAvailable ? (['mysql'] as const) : [])]

for (const sourceKind of FIRST_RUN_SOURCES) {
  describe.skipIf(!pgAvailable)(`first incremental run in bulk, ${sourceKind} → PostgreSQL`, () => {
    let src: TestDatasource
    let dst: TestDatasource
    // MySQL's DATETIME takes no zone suffix; the column comment says it holds UTC, so it is a zoned timestamp.
    const literal = (text: string) => (sourceKind === 'mysql' ? text.replace('T', ' ').replace('Z', '') : text)
    beforeAll(async () => {
      src = await openDatasource(sourceKind, 'src')
      dst = await openDatasource('postgres')
      const timestamp = { postgres: 'timestamptz', sqlite: 'TIMESTAMP', mysql: "DATETIME(6) COMMENT 'UTC'" }[sourceKind]
      await src.exec(`CREATE TABLE events (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated_at ${timestamp})`)
      for (let id = 1; id <= 300; id++) {
        // Many rows share a cursor value; some have none; the highest cursor is not on the highest id.
        const at = id % 50 === 0 ? null : id === 7 ? '2026-06-01T00:00:00.000001Z' : `2026-01-01T00:00:${String(id % 10).padStart(2, '0')}Z`
        await src.exec(`INSERT INTO events VALUES (?, ?, ?)`, [id, `event ${id}`, at === null ? null : literal(at)])
      }
    })
    afterAll(async () => {
      await src?.cleanup()
      await dst?.cleanup()
    })

    it('copies everything in bulk, leaves the watermark at the highest (cursor, key), and the next run reads only what is new', async () => {
      const events: SyncPlanInput = { id: 'events', source: { connection: 'src', entity: 'events' }, destination: { connection: 'dst', entity: 'events', create: true }, mode: 'incremental', cursor: 'updated_at', lookback: '0s' }
      const { manager, cleanup } = await openManager(src, dst, [events])
      try {
        const messages: string[] = []
        expect(await manager.run('events', { onProgress: (p: Progress) => messages.push(p.message) })).toMatchObject({ status: 'succeeded', created: 300 })
        expect(messages.some((m) => m.includes('in bulk'))).toBe(true)
        const watermark = (await manager.status()).find((s) => s.syncId === 'events')?.watermark
        expect(watermark).toEqual({ cursor: '2026-06-01T00:00:00.000001Z', key: [7] })

        await src.exec(`INSERT INTO events VALUES (?, ?, ?)`, [301, 'new', literal('2026-07-01T00:00:00Z')])
        const second = await manager.run('events')
        expect(second).toMatchObject({ status: 'succeeded', created: 1, updated: 0 })
        expect(await readAll(dst, 'events', ['id'])).toHaveLength(301)
      } finally {
        await cleanup()
      }
    })
  })
}

describe.skipIf(!pgAvailable)('a cancelled bulk copy', () => {
  let src: TestDatasource
  let dst: TestDatasource
  beforeAll(async () => {
    src = await openDatasource('postgres')
    dst = await openDatasource('postgres')
    await src.exec(`CREATE TABLE big (id bigint PRIMARY KEY, payload text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`)
    await src.exec(`INSERT INTO big (id, payload) SELECT g, repeat('x', 200) FROM generate_series(1, 200000) g`)
  })
  afterAll(async () => {
    await src?.cleanup()
    await dst?.cleanup()
  })

  it('writes nothing and saves no watermark; the next run copies everything', async () => {
    const big: SyncPlanInput = { id: 'big', source: { connection: 'src', entity: 'big' }, destination: { connection: 'dst', entity: 'big', create: true }, mode: 'incremental', cursor: 'updated_at' }
    const { manager, cleanup } = await openManager(src, dst, [big])
    try {
      const controller = new AbortController()
      const cancelled = await manager.run('big', {
        signal: controller.signal,
        onProgress: (p: Progress) => {
          if (p.message.includes('in bulk') && p.current > 0) controller.abort()
        },
      })
      expect(cancelled.status).toBe('cancelled')
      expect((await dst.query<{ n: string }>('SELECT count(*) AS n FROM big'))[0]!.n).toBe('0')
      expect((await manager.status()).find((s) => s.syncId === 'big')?.watermark).toBeUndefined()
      expect(await manager.run('big')).toMatchObject({ status: 'succeeded', created: 200000 })
    } finally {
      await cleanup()
    }
  })
})
