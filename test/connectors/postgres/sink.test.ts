/**
 * Writing to PostgreSQL: one transaction per batch, idempotent upserts by
 * every write path, deletes, only the given columns written, and rejected
 * records reported by field and limit with the batch rolled back and the
 * connection still usable.
 */
import { describe, expect, it } from 'vitest'
import { COPY_MIN_ROWS, type SinkOptions, type UpsertPath } from '../../../src/connectors/postgres/sink.js'
import { RecordError } from '../../../src/errors.js'
import type { Row } from '../../../src/values/canonical.js'
import { hasPostgres } from '../../helpers/services.js'
import { rejection, scanAll, usePgFixture } from './fixture.js'

const items = (count: number, version = 1, from = 1): Row[] =>
  Array.from({ length: count }, (_, i) => ({
    id: from + i,
    name: `item ${from + i} v${version}`,
    amount: `${from + i}.${String(version).padStart(2, '0')}`,
    updated_at: `2026-11-21T10:00:00.${String(version).padStart(6, '0')}Z`,
  }))

const ITEM_FIELDS = ['id', 'name', 'amount', 'updated_at']

describe.skipIf(!(await hasPostgres()))('PostgreSQL sink', () => {
  const pg = usePgFixture()
  const connector = () => pg.connector()
  const read = async (entity: string, fields = ITEM_FIELDS, keys = ['id']) => (await scanAll(connector(), entity, { fields, keys })).rows
  const createItems = (name: string, extra = '') =>
    pg.sql(`CREATE TABLE ${name} (id bigint PRIMARY KEY, name varchar(255) NOT NULL, amount numeric(12,2), updated_at timestamptz${extra})`)

  for (const path of ['upsert', 'staged', 'copy'] as UpsertPath[]) {
    it(`is idempotent and updates only what changed (${path} path)`, async () => {
      const table = `items_${path}`
      await createItems(table)
      // The sink's own `path` option forces the write path under test.
      const opts: SinkOptions = { keys: ['id'], path, allNew: true }
      const apply = (upserts: Row[]) => connector().apply(table, { upserts, deletes: [] }, opts)
      expect(await apply(items(30))).toEqual({ upserted: 30, deleted: 0 })
      expect(await apply(items(30))).toEqual({ upserted: 0, deleted: 0 })
      expect(await read(table)).toEqual(items(30))
      // A replayed batch mixing existing, changed and new rows.
      const mixed = [...items(10), ...items(10, 2, 11), ...items(10, 1, 31)]
      expect(await apply(mixed)).toEqual({ upserted: 20, deleted: 0 })
      expect(await read(table)).toEqual([...items(10), ...items(10, 2, 11), ...items(10, 1, 21), ...items(10, 1, 31)])
    })
  }

  for (const path of ['upsert', 'staged', 'copy'] as UpsertPath[]) {
    it(`writes arrays (text, integer, enum elements) and enums exactly (${path} path)`, async () => {
      const table = `arrays_${path}`
      await pg.sql(`CREATE TYPE ${table}_mood AS ENUM ('sad', 'happy', 'it''s, "ok"')`)
      await pg.sql(`CREATE TABLE ${table} (id bigint PRIMARY KEY, tags text[], nums integer[], mood ${table}_mood, moods ${table}_mood[])`)
      const rows: Row[] = [
        { id: 1, tags: '["a","b,c","d\\"e","f\\\\g","{h}"," i ","NULL",null,"","tab\\tnew\\nline"]', nums: '[1,-2,null]', mood: 'it\'s, "ok"', moods: '["happy","it\'s, \\"ok\\"",null]' },
        { id: 2, tags: '[]', nums: '[]', mood: 'sad', moods: '[]' },
        { id: 3, tags: null, nums: null, mood: null, moods: null },
      ]
      const opts: SinkOptions = { keys: ['id'], path, allNew: true }
      expect(await connector().apply(table, { upserts: rows, deletes: [] }, opts)).toEqual({ upserted: 3, deleted: 0 })
      expect(await connector().apply(table, { upserts: rows, deletes: [] }, opts)).toEqual({ upserted: 0, deleted: 0 })
      expect(await read(table, ['id', 'tags', 'nums', 'mood', 'moods'])).toEqual(rows)
      // PostgreSQL itself holds the elements, not a text that looks like them.
      const [native] = await pg.sql(`SELECT tags[2] AS second, array_length(tags, 1) AS n, tags[8] IS NULL AS null_element, moods[2]::text AS mood FROM ${table} WHERE id = 1`)
      expect(native).toEqual({ second: 'b,c', n: 10, null_element: true, mood: 'it\'s, "ok"' })
      const error = await rejection(connector().apply(table, { upserts: [{ id: 4, mood: 'angry' }], deletes: [] }, opts))
      expect(error).toBeInstanceOf(RecordError)
      expect(error.message).toContain(`mood: 'angry' is not one of the allowed values ('sad', 'happy', 'it's, "ok"')`)
    })
  }

  it('uses COPY for a large allNew batch and stays idempotent when the rows exist after all', async () => {
    await createItems('items_bulk')
    const rows = items(COPY_MIN_ROWS + 500)
    expect(await connector().apply('items_bulk', { upserts: rows, deletes: [] }, { keys: ['id'], allNew: true })).toEqual({ upserted: rows.length, deleted: 0 })
    // The hint is wrong now (a resumed run replays the batch, some rows changed): no duplicate-key error.
    const replay = rows.map((r, i) => (i % 2 === 0 ? { ...r, name: `${r.name} again` } : r))
    expect(await connector().apply('items_bulk', { upserts: replay, deletes: [] }, { keys: ['id'], allNew: true })).toEqual({ upserted: Math.ceil(rows.length / 2), deleted: 0 })
    expect(await read('items_bulk')).toEqual(replay)
  })

  it('deletes by single and composite keys, in the same transaction as the upserts', async () => {
    await createItems('items_delete')
    await connector().apply('items_delete', { upserts: items(5), deletes: [] }, { keys: ['id'] })
    const result = await connector().apply('items_delete', { upserts: [items(1, 3, 6)[0]!], deletes: [[2], [4], [404]] }, { keys: ['id'] })
    expect(result).toEqual({ upserted: 1, deleted: 2 })
    expect((await read('items_delete')).map((r) => r.id)).toEqual([1, 3, 5, 6])

    await pg.sql(`CREATE TABLE "Order Lines" ("Order" text, line int, qty int, PRIMARY KEY ("Order", line))`)
    const lines = [
      { Order: 'a', line: 1, qty: 1 },
      { Order: 'a', line: 2, qty: 2 },
      { Order: 'b', line: 1, qty: 3 },
    ]
    await connector().apply('Order Lines', { upserts: lines, deletes: [] }, { keys: ['Order', 'line'] })
    expect((await connector().apply('Order Lines', { upserts: [], deletes: [['a', 2], ['b', 2]] }, { keys: ['Order', 'line'] })).deleted).toBe(1)
    expect(await read('Order Lines', ['qty'], ['Order', 'line'])).toEqual([lines[0], lines[2]])
  })

  it('writes only the columns present in the rows; the others keep their values', async () => {
    await createItems('items_partial', `, note text DEFAULT 'kept'`)
    await connector().apply('items_partial', { upserts: items(2), deletes: [] }, { keys: ['id'] })
    await pg.sql(`UPDATE items_partial SET note = 'set by someone else' WHERE id = 1`)
    await connector().apply('items_partial', { upserts: items(3, 2), deletes: [] }, { keys: ['id'] })
    expect(await read('items_partial', ['name', 'note'])).toEqual([
      { id: 1, name: 'item 1 v2', note: 'set by someone else' },
      { id: 2, name: 'item 2 v2', note: 'kept' },
      { id: 3, name: 'item 3 v2', note: 'kept' },
    ])
  })

  it('sees a column added to the destination after it was first described', async () => {
    await createItems('items_altered')
    await connector().apply('items_altered', { upserts: items(1), deletes: [] }, { keys: ['id'] })
    await pg.sql(`ALTER TABLE items_altered ADD COLUMN color text`)
    await connector().apply('items_altered', { upserts: [{ ...items(1)[0]!, color: 'red' }], deletes: [] }, { keys: ['id'] })
    expect(await read('items_altered', ['color'])).toEqual([{ id: 1, color: 'red' }])
  })

  it('keeps the last row when a batch carries one key twice', async () => {
    await createItems('items_twice')
    const [first, second] = [items(1)[0]!, items(1, 2)[0]!]
    await connector().apply('items_twice', { upserts: [first, items(1, 1, 2)[0]!, second], deletes: [] }, { keys: ['id'] })
    expect((await read('items_twice')).map((r) => r.name)).toEqual(['item 1 v2', 'item 2 v1'])
  })

  it('upserts into a table without a unique key on the sync keys', async () => {
    await pg.sql(`CREATE TABLE log_copy (code text, seen int)`)
    const apply = (upserts: Row[]) => connector().apply('log_copy', { upserts, deletes: [] }, { keys: ['code'] })
    await apply([
      { code: 'a', seen: 1 },
      { code: 'b', seen: 1 },
    ])
    await apply([
      { code: 'a', seen: 2 },
      { code: 'c', seen: 1 },
    ])
    await apply([{ code: 'a', seen: 2 }])
    expect(await pg.sql(`SELECT code, seen FROM log_copy ORDER BY code`)).toEqual([
      { code: 'a', seen: 2 },
      { code: 'b', seen: 1 },
      { code: 'c', seen: 1 },
    ])
  })

  describe('rejected records', () => {
    it('a value too long names the field, its length and the limit; nothing of the batch lands', async () => {
      await createItems('items_long')
      await connector().apply('items_long', { upserts: items(2), deletes: [] }, { keys: ['id'] })
      const bad = { ...items(1, 1, 3)[0]!, name: 'x'.repeat(300) }
      const error = await rejection(connector().apply('items_long', { upserts: [items(1, 2)[0]!, bad], deletes: [[2]] }, { keys: ['id'] }))
      expect(error).toBeInstanceOf(RecordError)
      expect(error).toMatchObject({ code: 'VALUE_REJECTED', failure: 'data' })
      expect(error.message).toContain('items_long')
      expect(error.message).toContain('name: value of 300 characters is longer than varchar(255)')
      expect(error.message).toContain('id=3')
      expect(await read('items_long')).toEqual(items(2))
    })

    it('counts characters, not UTF-16 units, against the limit', async () => {
      const emoji = '😀'.repeat(255)
      await connector().apply('items_long', { upserts: [{ ...items(1, 1, 9)[0]!, name: emoji }], deletes: [] }, { keys: ['id'] })
      expect((await connector().lookup('items_long', ['id'], [[9]], ['name']))[0]!.name).toBe(emoji)
    })

    it('NULL in a NOT NULL column and an out-of-range integer name the field', async () => {
      await pg.sql(`CREATE TABLE counters (id int PRIMARY KEY, label text NOT NULL, hits integer)`)
      const nul = await rejection(connector().apply('counters', { upserts: [{ id: 1, label: null, hits: 1 }], deletes: [] }, { keys: ['id'] }))
      expect(nul).toMatchObject({ code: 'VALUE_REJECTED', failure: 'data' })
      expect(nul.message).toContain('label: NULL is not allowed')
      const big = await rejection(connector().apply('counters', { upserts: [{ id: 1, label: 'a', hits: 2 ** 31 }], deletes: [] }, { keys: ['id'] }))
      expect(big.message).toContain('hits: 2147483648 is out of range for integer')
      await createItems('items_precision')
      const wide = await rejection(connector().apply('items_precision', { upserts: [{ ...items(1)[0]!, amount: '-12345678901.5' }], deletes: [] }, { keys: ['id'] }))
      expect(wide.message).toContain('amount: -12345678901.5 has 11 digits before the decimal point; numeric(12,2) allows 10')
    })

    it('constraint errors from the server are RecordErrors, and the connection stays usable', async () => {
      await pg.sql(`CREATE TABLE checked (id int PRIMARY KEY, qty int CHECK (qty >= 0), email text UNIQUE, at date)`)
      // More failures than the pool has connections: each must go back clean.
      for (let i = 0; i < 12; i++) {
        const error = await rejection(connector().apply('checked', { upserts: [{ id: i, qty: -1, email: null, at: null }], deletes: [] }, { keys: ['id'] }))
        expect(error).toBeInstanceOf(RecordError)
        expect(error).toMatchObject({ code: 'VALUE_REJECTED', failure: 'data' })
        expect(error.message).toContain('checked_qty_check')
      }
      const dup = await rejection(
        connector().apply('checked', { upserts: [{ id: 1, qty: 1, email: 'a@x.org', at: null }, { id: 2, qty: 1, email: 'a@x.org', at: null }], deletes: [] }, { keys: ['id'] }),
      )
      expect(dup).toMatchObject({ code: 'VALUE_REJECTED', failure: 'data' })
      expect(dup.message).toContain('a@x.org')
      const badDate = await rejection(connector().apply('checked', { upserts: [{ id: 1, qty: 1, email: null, at: '2026-02-30' }], deletes: [] }, { keys: ['id'] }))
      expect(badDate).toMatchObject({ code: 'VALUE_REJECTED', failure: 'data' })
      await connector().apply('checked', { upserts: [{ id: 1, qty: 1, email: 'a@x.org', at: '2026-02-28' }], deletes: [] }, { keys: ['id'] })
      expect(await pg.sql(`SELECT count(*)::int AS n FROM checked`)).toEqual([{ n: 1 }])
    })

    it('an unknown destination field is a config error naming the closest field', async () => {
      const error = await rejection(connector().apply('counters', { upserts: [{ id: 1, lable: 'a' }], deletes: [] }, { keys: ['id'] }))
      expect(error).toMatchObject({ code: 'FIELD_NOT_FOUND', failure: 'config' })
      expect(error.message).toContain("'label'")
    })
  })
})
