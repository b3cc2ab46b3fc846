/**
 * Syncs through the engine with MariaDB on one side: PostgreSQL → MariaDB
 * (create: true, every canonical type, text keys in byte order), MariaDB →
 * SQLite (a case-insensitive source table, the open-transaction cap) and
 * MariaDB → PostgreSQL (the bulk COPY path), full and incremental, with
 * exact counts, and idle re-runs that find every row unchanged.
 */
import mysql from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SyncPlanInput } from '../../src/plan/schema.js'
import { compareText } from '../../src/values/compare.js'
import { hasMysql, hasPostgres } from '../helpers/services.js'
import { openDatasource, type TestDatasource } from './datasources.js'
import { openManager, readAll } from './sync-harness.js'

const available = (await hasMysql()) && (await hasPostgres())

/** Text keys whose UTF-8 byte order differs from UTF-16 and from case-insensitive order. */
const TEXT_KEYS = ['a', 'A', 'b', 'B', 'é', 'e', 'E', '😀', '😀a', '\uFFFF', 'ÿ', '€', 'aa', 'a ', 'ab', 'aB', '中', 'Ω', '~', '0', '10', '9', ' ', 'ｚ', '🀄']

const sync = (id: string, extra: Partial<SyncPlanInput>): SyncPlanInput => ({
  id,
  source: { connection: 'src', entity: id },
  destination: { connection: 'dst', entity: id, create: true },
  batchSize: 7,
  ...extra,
})

describe.skipIf(!available)('PostgreSQL → MariaDB', () => {
  let src: TestDatasource
  let dst: TestDatasource
  beforeAll(async () => {
    src = await openDatasource('postgres')
    dst = await openDatasource('mysql')
    await src.exec(`CREATE TABLE items (
      id bigint PRIMARY KEY, name varchar(100) NOT NULL, amount numeric(38,10), ratio double precision, active boolean,
      doc jsonb, blob bytea, uid uuid, born date, clock time, updated_at timestamptz, note text)`)
    for (let id = 1; id <= 60; id++) {
      await src.exec(`INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
        id === 60 ? 2n ** 62n : id,
        `Item ${id} 😀`,
        id % 5 === 0 ? null : `${(id % 9) + 1}234567890123456789012345678.0123456789`,
        id / 3,
        id % 2 === 0,
        JSON.stringify({ id, tags: ['x', 'y'], nested: { b: 1, a: [null] } }),
        Buffer.from([0, id % 256, 0]),
        `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`,
        '1900-01-01',
        '23:59:59.999999',
        `2026-01-01T00:00:${String(id % 60).padStart(2, '0')}.123456Z`,
        id === 7 ? 'x'.repeat(100_000) : `tab\there\nnew line 'quoted' \\ ${id}`,
      ])
    }
    await src.exec(`CREATE TABLE words (k text COLLATE "C" PRIMARY KEY, n integer)`)
    for (const [n, k] of TEXT_KEYS.entries()) await src.exec('INSERT INTO words VALUES (?, ?)', [k, n])
  })
  afterAll(async () => {
    await src?.cleanup()
    await dst?.cleanup()
  })

  it('full sync creates the table, copies every value exactly, then finds everything unchanged', async () => {
    const { manager, cleanup } = await openManager(src, dst, [sync('items', {})])
    try {
      expect(await manager.run('items')).toMatchObject({ status: 'succeeded', read: 60, created: 60, updated: 0, deleted: 0, failed: 0 })
      const rows = await readAll(dst, 'items', ['id'])
      expect(rows).toHaveLength(60)
      expect(rows[59]!.id).toBe(2n ** 62n)
      expect(rows[6]).toMatchObject({ id: 7, name: 'Item 7 😀', amount: '8234567890123456789012345678.0123456789', active: false, born: '1900-01-01', clock: '23:59:59.999999' })
      expect((rows[6]!.note as string).length).toBe(100_000)
      expect(rows[0]!.doc).toBe('{"id":1,"nested":{"a":[null],"b":1},"tags":["x","y"]}')
      expect(Buffer.from(rows[0]!.blob as Uint8Array)).toEqual(Buffer.from([0, 1, 0]))
      expect(await manager.run('items')).toMatchObject({ status: 'succeeded', read: 60, created: 0, updated: 0, deleted: 0, unchanged: 60 })

      await src.exec(`UPDATE items SET amount = '0.0000000001' WHERE id IN (3, 4)`)
      await src.exec('DELETE FROM items WHERE id = 10')
      await src.exec(`INSERT INTO items (id, name) VALUES (61, 'new')`)
      expect(await manager.run('items')).toMatchObject({ status: 'succeeded', created: 1, updated: 2, deleted: 1, unchanged: 57 })
      expect(await manager.run('items')).toMatchObject({ status: 'succeeded', read: 60, created: 0, updated: 0, deleted: 0, unchanged: 60 })
    } finally {
      await cleanup()
    }
  })

  it('text keys merge in byte order on both sides: case pairs, emoji and trailing spaces stay apart', async () => {
    const { manager, cleanup } = await openManager(src, dst, [sync('words', { batchSize: 4 })])
    try {
      expect(await manager.run('words')).toMatchObject({ status: 'succeeded', read: TEXT_KEYS.length, created: TEXT_KEYS.length })
      expect((await readAll(dst, 'words', ['k'])).map((r) => r.k)).toEqual([...TEXT_KEYS].sort(compareText))
      expect(await manager.run('words')).toMatchObject({ status: 'succeeded', created: 0, updated: 0, deleted: 0, unchanged: TEXT_KEYS.length })
      await src.exec(`DELETE FROM words WHERE k IN ('A', '😀')`)
      await src.exec(`UPDATE words SET n = -1 WHERE k = 'a '`)
      expect(await manager.run('words')).toMatchObject({ status: 'succeeded', created: 0, updated: 1, deleted: 2, unchanged: TEXT_KEYS.length - 3 })
    } finally {
      await cleanup()
    }
  })

  it('incremental sync copies only what changed after the watermark, and an idle run changes nothing', async () => {
    const { manager, cleanup } = await openManager(src, dst, [sync('items', { id: 'items_incremental', destination: { connection: 'dst', entity: 'items_incremental', create: true }, mode: 'incremental', cursor: 'updated_at', lookback: '0s' })])
    try {
      // 60 rows, one of them (61) without a cursor value: read in the NULL-cursor pass.
      expect(await manager.run('items_incremental')).toMatchObject({ status: 'succeeded', read: 60, created: 60, failed: 0 })
      await src.exec(`UPDATE items SET name = 'renamed', updated_at = '2026-06-01T00:00:00.000001Z' WHERE id IN (5, 6)`)
      await src.exec(`INSERT INTO items (id, name, updated_at) VALUES (62, 'later', '2026-06-01T00:00:00.000002Z')`)
      // The three changed rows, and the NULL-cursor row compared again (unchanged).
      expect(await manager.run('items_incremental')).toMatchObject({ status: 'succeeded', read: 4, created: 1, updated: 2, deleted: 0, unchanged: 1 })
      expect(await manager.run('items_incremental')).toMatchObject({ status: 'succeeded', read: 1, created: 0, updated: 0, deleted: 0, unchanged: 1 })
      expect(await readAll(dst, 'items_incremental', ['id'])).toHaveLength(61)
    } finally {
      await cleanup()
    }
  })
})

describe.skipIf(!available)('MariaDB → SQLite', () => {
  let src: TestDatasource
  let dst: TestDatasource
  beforeAll(async () => {
    src = await openDatasource('mysql')
    dst = await openDatasource('sqlite', 'dst')
    // A typical MariaDB table: the default, case-insensitive collation.
    await src.exec(`CREATE TABLE products (
      sku VARCHAR(40) COLLATE utf8mb4_general_ci PRIMARY KEY, title TEXT NOT NULL, price DECIMAL(10,2), stock BIGINT UNSIGNED,
      active TINYINT(1), updated_at DATETIME(6), KEY (updated_at)) DEFAULT CHARSET utf8mb4`)
    const skus = ['apple', 'Banana', 'cherry', 'Date', '😀 smile', 'éclair', 'Zucchini', 'zz top', 'Ω', 'ǅ', '10', '9']
    for (const [i, sku] of skus.entries()) {
      await src.exec('INSERT INTO products VALUES (?, ?, ?, ?, ?, ?)', [sku, `Title of ${sku}`, `${i}.99`, i === 0 ? '9007199254740993' : i, i % 2, `2026-01-0${(i % 3) + 1} 00:00:00.00000${i % 10}`])
    }
  })
  afterAll(async () => {
    await src?.cleanup()
    await dst?.cleanup()
  })

  it('full sync reads the case-insensitive table in byte order, with exact counts and idle re-runs', async () => {
    const { manager, cleanup } = await openManager(src, dst, [sync('products', { batchSize: 5 })])
    try {
      expect(await manager.run('products')).toMatchObject({ status: 'succeeded', read: 12, created: 12, updated: 0, deleted: 0, failed: 0 })
      const rows = await readAll(dst, 'products', ['sku'])
      expect(rows.map((r) => r.sku)).toEqual(['10', '9', 'Banana', 'Date', 'Zucchini', 'apple', 'cherry', 'zz top', 'éclair', 'ǅ', 'Ω', '😀 smile'])
      expect(rows.find((r) => r.sku === 'apple')).toMatchObject({ price: '0.99', stock: 9007199254740993n, active: false, updated_at: '2026-01-01T00:00:00.000000' })
      expect(await manager.run('products')).toMatchObject({ status: 'succeeded', read: 12, created: 0, updated: 0, deleted: 0, unchanged: 12 })
      await src.exec(`UPDATE products SET price = 1.50 WHERE sku = 'APPLE'`)
      await src.exec(`DELETE FROM products WHERE sku = 'zz top'`)
      await src.exec(`INSERT INTO products (sku, title) VALUES ('Fig', 'Fig')`)
      expect(await manager.run('products')).toMatchObject({ status: 'succeeded', created: 1, updated: 1, deleted: 1, unchanged: 10 })
      expect(await manager.run('products')).toMatchObject({ status: 'succeeded', read: 12, created: 0, updated: 0, deleted: 0, unchanged: 12 })
    } finally {
      await cleanup()
    }
  })

  it('incremental sync on a DATETIME(6) cursor: only changes, then nothing', async () => {
    const { manager, cleanup } = await openManager(src, dst, [
      sync('products', { id: 'products_incremental', destination: { connection: 'dst', entity: 'products_incremental', create: true }, mode: 'incremental', cursor: 'updated_at', batchSize: 3 }),
    ])
    try {
      // 'Fig' has no cursor value; it is read in the NULL-cursor pass.
      expect(await manager.run('products_incremental')).toMatchObject({ status: 'succeeded', created: 12, failed: 0 })
      await src.exec(`UPDATE products SET stock = 5, updated_at = '2026-02-01 00:00:00.000001' WHERE sku IN ('Banana', 'Date')`)
      const changed = await manager.run('products_incremental')
      expect(changed).toMatchObject({ status: 'succeeded', created: 0, updated: 2, deleted: 0, failed: 0 })
      expect(changed.unchanged).toBe(changed.read - 2)
      const idle = await manager.run('products_incremental')
      expect(idle).toMatchObject({ status: 'succeeded', created: 0, updated: 0, deleted: 0, failed: 0 })
      // What the look-back window re-read (and the NULL-cursor row) is all unchanged.
      expect(idle.unchanged).toBe(idle.read)
      expect(idle.read).toBeGreaterThan(0)
      const rows = await readAll(dst, 'products_incremental', ['sku'])
      expect(rows).toHaveLength(12)
      expect(rows.find((r) => r.sku === 'Date')).toMatchObject({ stock: 5, updated_at: '2026-02-01T00:00:00.000001' })
    } finally {
      await cleanup()
    }
  })

  it('caps the watermark at the oldest open transaction, so its rows are caught after commit even without a look-back', async () => {
    await src.exec('CREATE TABLE orders (id BIGINT PRIMARY KEY, total DECIMAL(12,2), updated_at DATETIME(6) NOT NULL DEFAULT NOW(6))')
    const { manager, cleanup } = await openManager(src, dst, [
      { id: 'orders', source: { connection: 'src', entity: 'orders' }, destination: { connection: 'dst', entity: 'orders', create: true }, mode: 'incremental', cursor: 'updated_at', lookback: '0s' },
    ])
    const slow = await mysql.createConnection({ uri: src.url })
    try {
      await src.exec('INSERT INTO orders (id, total) VALUES (1, 10)')
      // A transaction that takes its cursor value (NOW(6)) and commits late.
      await slow.query('BEGIN')
      await slow.query('INSERT INTO orders (id, total) VALUES (2, 20)')
      await new Promise((resolve) => setTimeout(resolve, 300)) // INNODB_TRX refreshes every 0.1 s
      await src.exec('INSERT INTO orders (id, total) VALUES (3, 30)') // a newer cursor, committed first
      expect(await manager.run('orders')).toMatchObject({ status: 'succeeded', created: 2 })
      await slow.query('COMMIT')
      expect(await manager.run('orders')).toMatchObject({ status: 'succeeded', created: 1 })
      expect((await readAll(dst, 'orders', ['id'])).map((r) => r.id)).toEqual([1, 2, 3])
    } finally {
      await slow.end()
      await cleanup()
    }
  })
})

describe.skipIf(!available)('MariaDB → PostgreSQL', () => {
  let src: TestDatasource
  let dst: TestDatasource
  beforeAll(async () => {
    src = await openDatasource('mysql')
    dst = await openDatasource('postgres')
    await src.exec(`CREATE TABLE things (
      id BIGINT PRIMARY KEY, label TEXT, amount DECIMAL(20,6), ratio DOUBLE, single FLOAT, at DATETIME(6), day DATE, clock TIME(6),
      doc JSON, raw BLOB, ref UUID, flag BOOLEAN, big BIGINT UNSIGNED) DEFAULT CHARSET utf8mb4`)
    await src.exec(`INSERT INTO things SELECT seq, IF(seq % 7 = 0, NULL, CONCAT('line\\nnext\\ttab \\\\ back "q" 😀 ', seq)), seq * 1.000001, seq / 3, seq / 4,
                      '2026-01-01 00:00:00.123456' + INTERVAL seq SECOND, '1900-01-01' + INTERVAL seq DAY, SEC_TO_TIME(seq % 86400 + 0.000001),
                      JSON_OBJECT('b', seq, 'a', 'x'), UNHEX(CONCAT('00ff', LPAD(HEX(seq), 4, '0'))), UUID(), seq % 2, 9007199254740993 + seq
                    FROM seq_1_to_3000`)
  })
  afterAll(async () => {
    await src?.cleanup()
    await dst?.cleanup()
  })

  const things = (id: string, destination: string, extra: Partial<SyncPlanInput> = {}): SyncPlanInput => ({
    id,
    source: { connection: 'src', entity: 'things' },
    destination: { connection: 'dst', entity: destination, create: true },
    ...extra,
  })

  it('a first full copy goes in bulk (COPY text), exactly as the row path writes it', async () => {
    const { manager, cleanup } = await openManager(src, dst, [things('bulk', 'things_bulk'), things('rows', 'things_rows', { filters: [{ field: 'id', op: '>', value: 0 }] })])
    try {
      const messages: string[] = []
      expect(await manager.run('bulk', { onProgress: (p) => messages.push(p.message) })).toMatchObject({ status: 'succeeded', read: 3000, created: 3000 })
      expect(messages.some((m) => m.includes('in bulk'))).toBe(true)
      // A filter rules the bulk path out: the same rows through the engine's row path.
      expect(await manager.run('rows')).toMatchObject({ status: 'succeeded', created: 3000 })
      const bulk = await readAll(dst, 'things_bulk', ['id'])
      expect(bulk).toEqual(await readAll(dst, 'things_rows', ['id']))
      // BIGINT UNSIGNED becomes numeric(20), which holds all of it: its values read back as decimals.
      expect(bulk[6]).toMatchObject({ id: 7, label: null, single: 1.75, big: '9007199254741000', day: '1900-01-08', clock: '00:00:07.000001' })
      expect(await manager.run('bulk')).toMatchObject({ status: 'succeeded', created: 0, updated: 0, deleted: 0, unchanged: 3000 })
    } finally {
      await cleanup()
    }
  })

  it('a value the canonical model cannot take stops the bulk copy, and then the run, naming the record', async () => {
    await src.exec('CREATE TABLE spans (id INT PRIMARY KEY, spent TIME)')
    await src.exec(`INSERT INTO spans SELECT seq, IF(seq = 42, '100:00:00', SEC_TO_TIME(seq)) FROM seq_1_to_100`)
    const { manager, cleanup } = await openManager(src, dst, [{ id: 'spans', source: { connection: 'src', entity: 'spans' }, destination: { connection: 'dst', entity: 'spans', create: true } }])
    try {
      const messages: string[] = []
      const result = await manager.run('spans', { onProgress: (p) => messages.push(p.message) })
      expect(messages.some((m) => /bulk copy stopped, nothing written.*id=42/.test(m))).toBe(true)
      // A source row cannot be skipped like a rejected destination write: the run fails with the record named.
      expect(result).toMatchObject({ status: 'failed', failure: 'data' })
      expect(result.error).toMatch(/id=42.*spent.*100:00:00/)
    } finally {
      await cleanup()
    }
  })
})
