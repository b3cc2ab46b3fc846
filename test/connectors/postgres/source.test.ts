/**
 * Reading from PostgreSQL: key order equal to compareText (the engine's merge
 * relies on it), cursor scans that lose no row at batch boundaries, filters
 * that stay data, lookups, cancellation that gives the connection back.
 */
import { describe, expect, it } from 'vitest'
import pg from 'pg'
import { CancelledError, ConnectionError, NotFoundError } from '../../../src/errors.js'
import type { KeyValues, Row } from '../../../src/values/canonical.js'
import { compareKeys, compareText } from '../../../src/values/compare.js'
import { hasPostgres } from '../../helpers/services.js'
import { rejection, scanAll, usePgFixture } from './fixture.js'

const TEXT_KEYS = ['', ' ', 'A', 'B', 'Z', '_', 'a', 'aa', 'ab', 'b', 'z', '~', '\u007f', 'é', 'ÿ', 'Ω', 'ж', '中', '\uE000', '\uFFFD', '\uFFFF', '😀', '𝄞', '🦀x', 'a😀', 'a\uFFFF']

describe.skipIf(!(await hasPostgres()))('PostgreSQL source', () => {
  const pg_ = usePgFixture()
  const connector = () => pg_.connector()

  it('scans text keys in UTF-8 byte order (compareText), emoji and U+FFFF included', async () => {
    // A linguistic (ICU) collation on the column: the scan must still order by bytes.
    await pg_.sql(`CREATE TABLE words (word text COLLATE "und-x-icu" PRIMARY KEY, n int)`)
    const shuffled = [...TEXT_KEYS].sort(() => Math.random() - 0.5)
    await connector().apply('words', { upserts: shuffled.map((word, n) => ({ word, n })), deletes: [] }, { keys: ['word'] })
    const { rows, batches } = await scanAll(connector(), 'words', { fields: ['word'], keys: ['word'], batchSize: 4 })
    const expected = [...TEXT_KEYS].sort(compareText)
    expect(rows.map((r) => r.word)).toEqual(expected)
    expect(batches.every((b) => b === 4 || b === expected.length % 4)).toBe(true)
    // JavaScript's own order differs above U+FFFF; the scan must not follow it.
    expect(expected).not.toEqual([...TEXT_KEYS].sort())
  })

  it('continues after a key (keyset) in the same order', async () => {
    const expected = [...TEXT_KEYS].sort(compareText)
    for (const from of ['a', '\uFFFF', '😀', '']) {
      const { rows } = await scanAll(connector(), 'words', { fields: ['word'], keys: ['word'], after: [from], batchSize: 5 })
      expect(rows.map((r) => r.word)).toEqual(expected.filter((w) => compareText(w, from) > 0))
    }
  })

  it('orders composite keys field by field and resumes after a composite key', async () => {
    await pg_.sql(`CREATE TABLE lines (order_no text, line int, qty int, PRIMARY KEY (order_no, line))`)
    const keys: KeyValues[] = []
    for (const order of ['b', 'a', '😀', '\uFFFF', 'A']) for (const line of [10, 2, 1]) keys.push([order, line])
    await connector().apply('lines', { upserts: keys.map(([order_no, line]) => ({ order_no: order_no ?? null, line: line ?? null, qty: 1 })), deletes: [] }, { keys: ['order_no', 'line'] })
    const sorted = [...keys].sort((a, b) => compareKeys(['text', 'integer'], a, b))
    const { rows } = await scanAll(connector(), 'lines', { fields: ['qty'], keys: ['order_no', 'line'], batchSize: 4 })
    expect(rows.map((r) => [r.order_no, r.line])).toEqual(sorted)
    const after = sorted[6]!
    const rest = await scanAll(connector(), 'lines', { fields: ['qty'], keys: ['order_no', 'line'], after, batchSize: 4 })
    expect(rest.rows.map((r) => [r.order_no, r.line])).toEqual(sorted.slice(7))
  })

  describe('cursor scans', () => {
    // 100 rows over three timestamps: most batch boundaries fall between equal cursor values.
    const STAMPS = ['2026-11-21T10:00:00.000001Z', '2026-11-21T10:00:00.000002Z', '2026-11-21T11:00:00.000000Z']
    const rows: Row[] = Array.from({ length: 100 }, (_, i) => ({ id: i + 1, updated_at: STAMPS[(i * 7) % 3]!, v: `v${i}` }))

    it('order by (cursor, key) and lose no row when resuming at a boundary inside equal values', async () => {
      await pg_.sql(`CREATE TABLE events (id bigint PRIMARY KEY, updated_at timestamptz, v text)`)
      await connector().apply('events', { upserts: [...rows, { id: 1000, updated_at: null, v: 'no cursor' }], deletes: [] }, { keys: ['id'] })
      const expected = rows.map((r) => [r.updated_at, r.id]).sort((a, b) => compareKeys(['timestamp', 'integer'], a as KeyValues, b as KeyValues))

      const full = await scanAll(connector(), 'events', { fields: ['v'], keys: ['id'], cursor: { field: 'updated_at' }, batchSize: 7 })
      expect(full.rows.map((r) => [r.updated_at, r.id])).toEqual(expected)

      // Incremental runs that each read one batch and save (cursor, key) as the watermark.
      const seen: unknown[] = []
      let from: { value: string; key: KeyValues } | undefined
      for (let run = 0; run < 100; run++) {
        let batch: Row[] = []
        for await (const b of connector().scan('events', { fields: ['v'], keys: ['id'], cursor: { field: 'updated_at', ...(from ? { from } : {}) }, batchSize: 7 })) {
          batch = b
          break
        }
        if (batch.length === 0) break
        seen.push(...batch.map((r) => [r.updated_at, r.id]))
        const last = batch[batch.length - 1]!
        from = { value: last.updated_at as string, key: [last.id ?? null] }
      }
      expect(seen).toEqual(expected)
    })

    it('without a key, re-reads from the cursor value inclusive (look-back)', async () => {
      const { rows: got } = await scanAll(connector(), 'events', { fields: ['v'], keys: ['id'], cursor: { field: 'updated_at', from: { value: STAMPS[1]! } }, batchSize: 10 })
      expect(got.length).toBe(rows.filter((r) => r.updated_at !== STAMPS[0]).length)
      expect(got.every((r) => r.updated_at !== null && (r.updated_at as string) >= STAMPS[1]!)).toBe(true)
    })
  })

  describe('filters', () => {
    const NASTY = `'; DROP TABLE people; --`

    it('treat values with SQL in them as data', async () => {
      await pg_.sql(`CREATE TABLE people (id int PRIMARY KEY, name text, status text, score numeric(5,2))`)
      await connector().apply(
        'people',
        {
          upserts: [
            { id: 1, name: NASTY, status: 'active', score: '1.50' },
            { id: 2, name: 'Robert"); DROP TABLE people;--', status: 'inactive', score: '99.99' },
            { id: 3, name: 'plain', status: 'active', score: null },
          ],
          deletes: [],
        },
        { keys: ['id'] },
      )
      const eq = await scanAll(connector(), 'people', { fields: ['name'], keys: ['id'], filters: [{ field: 'name', op: '=', value: NASTY }] })
      expect(eq.rows).toEqual([{ id: 1, name: NASTY }])
      const list = await scanAll(connector(), 'people', { fields: ['name'], keys: ['id'], filters: [{ field: 'name', op: 'in', value: [NASTY, 'x\' OR 1=1 --'] }] })
      expect(list.rows.map((r) => r.id)).toEqual([1])
      const like = await scanAll(connector(), 'people', { fields: ['name'], keys: ['id'], filters: [{ field: 'name', op: 'like', value: "%'; DROP%" }] })
      expect(like.rows.map((r) => r.id)).toEqual([1])
      expect(await pg_.sql(`SELECT to_regclass('people') IS NOT NULL AS exists`)).toEqual([{ exists: true }])
    })

    it('push down every operator, and count with them', async () => {
      const ids = async (filters: Parameters<ReturnType<typeof connector>['count']>[1]) =>
        (await scanAll(connector(), 'people', { fields: ['id'], keys: ['id'], filters: filters ?? [] })).rows.map((r) => r.id)
      expect(await ids([{ field: 'status', op: '!=', value: 'active' }])).toEqual([2])
      expect(await ids([{ field: 'score', op: '>=', value: '1.5' }])).toEqual([1, 2])
      expect(await ids([{ field: 'score', op: 'is_null' }])).toEqual([3])
      expect(await ids([{ field: 'score', op: 'is_not_null' }, { field: 'status', op: '=', value: 'active' }])).toEqual([1])
      expect(await ids([{ field: 'id', op: 'not_in', value: [1, 3] }])).toEqual([2])
      expect(await ids([{ field: 'id', op: 'in', value: [] }])).toEqual([])
      expect(await connector().count('people')).toBe(3)
      expect(await connector().count('people', [{ field: 'status', op: '=', value: 'active' }])).toBe(2)
    })
  })

  it('looks up a batch of keys, single and composite; missing keys are absent', async () => {
    const single = await connector().lookup('people', ['id'], [[3], [1], [404]], ['name'])
    expect(single.map((r) => [r.id, r.name]).sort()).toEqual([
      [1, `'; DROP TABLE people; --`],
      [3, 'plain'],
    ])
    const composite = await connector().lookup('lines', ['order_no', 'line'], [['😀', 2], ['a', 10], ['a', 3], ['nope', 1]], ['qty'])
    expect(composite.map((r) => [r.order_no, r.line]).sort()).toEqual([
      ['a', 10],
      ['😀', 2],
    ])
    expect(await connector().lookup('people', ['id'], [], ['name'])).toEqual([])
  })

  it('stops a scan when its signal fires and gives the connection back', async () => {
    await pg_.sql(`CREATE TABLE many (id int PRIMARY KEY, v text)`)
    await pg_.sql(`INSERT INTO many SELECT i, 'v' || i FROM generate_series(1, 5000) i`)
    const controller = new AbortController()
    let batches = 0
    const error = await rejection(
      (async () => {
        for await (const batch of connector().scan('many', { fields: ['v'], keys: ['id'], batchSize: 100, signal: controller.signal })) {
          expect(batch).toHaveLength(100)
          batches++
          if (batches === 2) controller.abort()
        }
      })(),
    )
    expect(error).toBeInstanceOf(CancelledError)
    expect(batches).toBe(2)
    // No transaction of the scan is left open, and the connector still works.
    expect(await openScans()).toBe(0)
    expect(await connector().count('many')).toBe(5000)
  })

  it('leaving a scan early (break) closes its cursor and transaction', async () => {
    for (let i = 0; i < 15; i++) {
      for await (const batch of connector().scan('many', { fields: ['v'], keys: ['id'], batchSize: 50 })) {
        expect(batch.length).toBe(50)
        break
      }
    }
    expect(await openScans()).toBe(0)
  })

  it('reports a missing entity or field with the closest name', async () => {
    const missing = await rejection(scanAll(connector(), 'peeple', { fields: ['id'], keys: ['id'] }))
    expect(missing).toBeInstanceOf(NotFoundError)
    expect(missing.code).toBe('ENTITY_NOT_FOUND')
    expect(missing.message).toContain("'people'")
    const field = await rejection(scanAll(connector(), 'people', { fields: ['nmae'], keys: ['id'] }))
    expect(field.code).toBe('FIELD_NOT_FOUND')
    expect(field.message).toContain("'name'")
    const filter = await rejection(connector().count('people', [{ field: 'stauts', op: '=', value: 'active' }]))
    expect(filter).toMatchObject({ code: 'FIELD_NOT_FOUND', failure: 'config' })
    expect(filter.message).toContain("'status'")
  })

  it('a scan whose connection is killed fails as CONNECTION_LOST, and the connector recovers', async () => {
    const error = await rejection(
      (async () => {
        for await (const _ of connector().scan('many', { fields: ['v'], keys: ['id'], batchSize: 10 })) {
          await pg_.sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'syncline scan' AND datname = current_database()`)
        }
      })(),
    )
    expect(error).toBeInstanceOf(ConnectionError)
    expect(error.code).toBe('CONNECTION_LOST')
    expect(error.failure).toBe('transient')
    expect(await connector().count('many')).toBe(5000)
  })

  it('reports the start of the oldest open transaction of another session, ignoring its own scans', async () => {
    const other = new pg.Client({ connectionString: pg_.url() })
    await other.connect()
    try {
      expect(await connector().oldestOpenTransactionStart!()).toBeUndefined()
      await other.query('BEGIN')
      const { rows } = await other.query<{ start: string }>(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS start`)
      // An open scan is read-only: it can never commit rows late, so it does not count.
      for await (const _ of connector().scan('many', { fields: ['v'], keys: ['id'], batchSize: 10 })) {
        expect(await connector().oldestOpenTransactionStart!()).toBe(rows[0]!.start)
        break
      }
      await other.query('COMMIT')
      expect(await connector().oldestOpenTransactionStart!()).toBeUndefined()
    } finally {
      await other.end()
    }
  })

  async function openScans(): Promise<number> {
    const rows = await pg_.sql<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'syncline scan'`)
    return rows[0]!.n
  }
})
