/**
 * SQLite files as other applications write them: declared types of every
 * flavour, timestamps as CURRENT_TIMESTAMP text and epoch numbers, upper-case
 * GUIDs, decimals as REAL, NOCASE keys, tables without a unique key. The
 * connector must read them as canonical values and scan, filter and look
 * them up as the engine expects.
 */
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Connector, ScanOptions } from '../../../src/connectors/connector.js'
import { createSqliteConnector } from '../../../src/connectors/sqlite/connector.js'
import { CompareModes } from '../../../src/connectors/sqlite/dialect.js'
import { RecordError } from '../../../src/errors.js'
import type { Row } from '../../../src/values/canonical.js'
import { compareText } from '../../../src/values/compare.js'
import { tempDir } from '../../helpers/services.js'

let dir: ReturnType<typeof tempDir>
let path: string
let raw: Database.Database
let connector: Connector

beforeAll(() => {
  dir = tempDir('syncline-sqlite-real-')
  path = join(dir.path, 'app.db')
  raw = new Database(path)
  raw.defaultSafeIntegers(true)
  connector = createSqliteConnector({ name: 'app', url: `sqlite:${path}` })
})

afterAll(async () => {
  await connector.close()
  raw.close()
  dir.remove()
})

async function scanAll(entity: string, opts: Omit<ScanOptions, 'batchSize'> & { batchSize?: number }): Promise<Row[]> {
  const rows: Row[] = []
  for await (const batch of connector.scan(entity, { batchSize: 1000, ...opts })) rows.push(...batch)
  return rows
}

describe('introspection of tables written by other tools', () => {
  beforeAll(() => {
    raw.exec(`
      CREATE TABLE customers (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL COLLATE NOCASE UNIQUE,
        name VARCHAR(80),
        balance DECIMAL(10,2),
        vip BOOLEAN DEFAULT 0,
        created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
        meta JSON,
        guid UUID,
        anything
      );
      CREATE TABLE orders (
        order_no TEXT,
        line INTEGER,
        customer_id INTEGER REFERENCES customers,
        sku TEXT,
        PRIMARY KEY (order_no, line),
        UNIQUE (customer_id, sku),
        FOREIGN KEY (sku) REFERENCES products(code)
      );
      CREATE TABLE products (code TEXT PRIMARY KEY NOT NULL, title TEXT) WITHOUT ROWID;
      CREATE UNIQUE INDEX products_title ON products (title) WHERE title IS NOT NULL;
      CREATE VIEW vip_customers AS SELECT id, email FROM customers WHERE vip;
    `)
  })

  it('an INTEGER PRIMARY KEY (the rowid) is the key and never NULL; declared types map to canonical ones', async () => {
    const info = await connector.describe('customers')
    expect(info.primaryKey).toEqual(['id'])
    const types = Object.fromEntries(info.fields.map((f) => [f.name, [f.type, f.nullable]]))
    expect(types).toEqual({
      id: ['integer', false],
      email: ['text', false],
      name: ['text', true],
      balance: ['decimal', true],
      vip: ['boolean', true],
      created_at: ['timestamp', true],
      meta: ['json', true],
      guid: ['uuid', true],
      anything: ['text', true],
    })
    expect(info.fields.find((f) => f.name === 'name')!.maxLength).toBe(80)
    expect(info.fields.find((f) => f.name === 'anything')!.nativeType).toBe('')
    expect(info.uniqueKeys).toEqual([['email']])
  })

  it('reports composite keys, unique constraints and foreign keys (to the parent primary key when unnamed)', async () => {
    const info = await connector.describe('orders')
    expect(info.primaryKey).toEqual(['order_no', 'line'])
    expect(info.uniqueKeys).toEqual([['customer_id', 'sku']])
    expect(info.foreignKeys).toEqual(
      expect.arrayContaining([
        { fields: ['customer_id'], references: { entity: 'customers', fields: ['id'] } },
        { fields: ['sku'], references: { entity: 'products', fields: ['code'] } },
      ]),
    )
  })

  it('a partial unique index is no key; WITHOUT ROWID keys are never NULL', async () => {
    const info = await connector.describe('products')
    expect(info.uniqueKeys).toEqual([])
    expect(info.fields.find((f) => f.name === 'code')!.nullable).toBe(false)
  })

  it('views are entities; names resolve case-insensitively like SQLite does', async () => {
    const names = (await connector.discover()).map((e) => e.name)
    expect(names).toEqual(['customers', 'orders', 'products', 'vip_customers'])
    expect((await connector.describe('vip_customers')).fields.map((f) => f.name)).toEqual(['id', 'email'])
    expect((await connector.describe('CUSTOMERS')).name).toBe('customers')
    expect((await connector.describe('main.customers')).name).toBe('customers')
  })
})

describe('reading values as other tools stored them', () => {
  beforeAll(() => {
    raw.exec(`CREATE TABLE readings (
      id INTEGER PRIMARY KEY, at DATETIME, amount NUMERIC(10,2), ok BOOLEAN, doc JSON, big BIGINT, guid TEXT
    )`)
    const insert = raw.prepare('INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?)')
    insert.run(1n, '2026-11-21 10:00:00', 12.5, 1n, '{"b":1,"a":[true]}', 2n ** 63n - 1n, 'ABCDEF00-1111-2222-3333-444455556666')
    insert.run(2n, '2026-11-21T10:00:00.123Z', '12.50', 0n, '5', -(2n ** 63n), null)
    insert.run(3n, 1795255200n, 12n, 'true', '"text"', 9007199254740993n, null)
    insert.run(4n, '2026-11-21 12:00:00+02:00', '0.1', 'false', null, 1n, null)
  })

  it('decodes every stored form into the canonical value', async () => {
    const rows = await scanAll('readings', { fields: ['at', 'amount', 'ok', 'doc', 'big'], keys: ['id'] })
    expect(rows).toEqual([
      { id: 1, at: '2026-11-21T10:00:00.000000Z', amount: '12.5', ok: true, doc: '{"a":[true],"b":1}', big: 2n ** 63n - 1n },
      { id: 2, at: '2026-11-21T10:00:00.123000Z', amount: '12.5', ok: false, doc: '5', big: -(2n ** 63n) },
      { id: 3, at: '2026-11-21T10:00:00.000000Z', amount: '12', ok: true, doc: '"text"', big: 9007199254740993n },
      { id: 4, at: '2026-11-21T10:00:00.000000Z', amount: '0.1', ok: false, doc: null, big: 1 },
    ])
  })

  it('a stored value that cannot be read is a data error naming the field, and other reads still work', async () => {
    raw.exec(`CREATE TABLE broken (id INTEGER PRIMARY KEY, at TIMESTAMP); INSERT INTO broken VALUES (1, '2026-01-01'), (2, 'soon')`)
    const error = await scanAll('broken', { fields: ['at'], keys: ['id'] }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RecordError)
    expect((error as RecordError).code).toBe('VALUE_REJECTED')
    expect((error as Error).message).toContain("'at'")
    expect((error as Error).message).toContain('soon')
    expect(await connector.count('broken')).toBe(2)
  })
})

describe('comparing values stored in non-canonical forms', () => {
  beforeAll(() => {
    // What an app using CURRENT_TIMESTAMP, epoch numbers and ISO strings leaves behind.
    raw.exec(`CREATE TABLE events (id INTEGER PRIMARY KEY, updated_at DATETIME, note TEXT)`)
    const insert = raw.prepare('INSERT INTO events VALUES (?, ?, ?)')
    insert.run(1n, '2026-01-01 09:00:00', 'a')
    insert.run(2n, '2026-01-01 10:00:00', 'b')
    insert.run(3n, '2026-01-01T10:00:00.000000Z', 'c')
    insert.run(4n, 1767265200n + 1n, 'd') // 2026-01-01T11:00:01Z as epoch seconds
    insert.run(5n, '2026-01-01 12:00:00+02:00', 'e') // 10:00 UTC
    insert.run(6n, '2026-01-02 00:00:00', 'f')
    insert.run(7n, null, 'g')
  })

  it('a cursor scan orders by the instant, whatever text or number holds it', async () => {
    const rows = await scanAll('events', { fields: ['note'], keys: ['id'], cursor: { field: 'updated_at' }, batchSize: 2 })
    expect(rows.map((r) => r.note)).toEqual(['a', 'b', 'c', 'e', 'd', 'f'])
  })

  it('resuming from a canonical watermark finds rows stored as CURRENT_TIMESTAMP text', async () => {
    const from = { value: '2026-01-01T10:00:00.000000Z', key: [3] }
    const rows = await scanAll('events', { fields: ['note'], keys: ['id'], cursor: { field: 'updated_at', from }, batchSize: 2 })
    expect(rows.map((r) => r.note)).toEqual(['e', 'd', 'f'])
    const lookBack = await scanAll('events', { fields: ['note'], keys: ['id'], cursor: { field: 'updated_at', from: { value: '2026-01-01T10:00:00.000000Z' } } })
    expect(lookBack.map((r) => r.note)).toEqual(['b', 'c', 'e', 'd', 'f'])
  })

  it('timestamp filters compare instants', async () => {
    expect(await connector.count('events', [{ field: 'updated_at', op: '>', value: '2026-01-01T10:00:00.000000Z' }])).toBe(2)
    expect(await connector.count('events', [{ field: 'updated_at', op: '=', value: '2026-01-01T10:00:00Z' }])).toBe(3)
  })

  it('a column holding only canonical text is compared as stored (so indexes work), others through the normalizing function', async () => {
    raw.exec(`CREATE TABLE clean (id INTEGER PRIMARY KEY, at TIMESTAMP, day DATE, ok BOOLEAN); CREATE INDEX clean_at ON clean (at)`)
    raw.prepare('INSERT INTO clean VALUES (?, ?, ?, ?)').run(1n, '2026-01-01T10:00:00.000000Z', '2026-01-01', 1n)
    const modes = new CompareModes()
    expect(modes.of(raw, await connector.describe('clean'), ['at', 'day', 'ok'])).toEqual(new Map([['at', 'stored'], ['day', 'stored'], ['ok', 'stored']]))
    expect(modes.of(raw, await connector.describe('events'), ['updated_at', 'id', 'note'])).toEqual(new Map([['updated_at', 'normalized'], ['id', 'stored'], ['note', 'stored']]))
    expect(await connector.count('clean', [{ field: 'at', op: '>=', value: '2026-01-01T10:00:00.000000Z' }])).toBe(1)
  })

  it('upper-case GUID keys scan in canonical order and are found by their canonical value', async () => {
    raw.exec(`CREATE TABLE devices (guid UUID PRIMARY KEY NOT NULL, label TEXT)`)
    const guids = ['0A000000-0000-0000-0000-000000000000', 'B0000000-0000-0000-0000-000000000000', '09000000-0000-0000-0000-000000000000', 'a1000000-0000-0000-0000-000000000000']
    const insert = raw.prepare('INSERT INTO devices VALUES (?, ?)')
    guids.forEach((g, i) => insert.run(g, `d${i}`))
    const rows = await scanAll('devices', { fields: ['label'], keys: ['guid'], batchSize: 1 })
    const canonical = guids.map((g) => g.toLowerCase()).sort(compareText)
    expect(rows.map((r) => r.guid)).toEqual(canonical)
    const after = await scanAll('devices', { fields: ['label'], keys: ['guid'], after: [canonical[1]!] })
    expect(after.map((r) => r.guid)).toEqual(canonical.slice(2))
    const found = await connector.lookup('devices', ['guid'], [['b0000000-0000-0000-0000-000000000000']], ['label'])
    expect(found).toEqual([{ guid: 'b0000000-0000-0000-0000-000000000000', label: 'd1' }])
  })

  it('a NOCASE text key still scans in byte order', async () => {
    raw.exec(`CREATE TABLE tags (name TEXT PRIMARY KEY NOT NULL COLLATE NOCASE, n INTEGER)`)
    const names = ['b', 'A', 'c', 'B_', 'a_', '😀', 'Z']
    const insert = raw.prepare('INSERT INTO tags VALUES (?, ?)')
    names.forEach((name, i) => insert.run(name, BigInt(i)))
    const rows = await scanAll('tags', { fields: ['n'], keys: ['name'], batchSize: 2 })
    expect(rows.map((r) => r.name)).toEqual([...names].sort(compareText))
  })
})

describe('writing', () => {
  it('keeps decimals and JSON exact despite SQLite affinity', async () => {
    await connector.ensureEntity(
      'exact',
      [
        { name: 'id', type: 'integer', nativeType: '', nullable: false },
        { name: 'amount', type: 'decimal', nativeType: '', nullable: true, precision: 38, scale: 10 },
        { name: 'doc', type: 'json', nativeType: '', nullable: true },
        { name: 'at', type: 'timestamp', nativeType: '', nullable: true },
      ],
      ['id'],
    )
    await connector.apply(
      'exact',
      {
        upserts: [
          { id: 1, amount: '12.50', doc: '5', at: '2026-11-21 12:00:00.123456+02' },
          { id: 2, amount: '1234567890123456789012345678.0123456789', doc: '"5"', at: null },
        ],
        deletes: [],
      },
      { keys: ['id'] },
    )
    expect(raw.prepare('SELECT amount, typeof(amount) t, doc, typeof(doc) dt, at FROM exact ORDER BY id').all()).toEqual([
      { amount: '12.50', t: 'text', doc: '5', dt: 'text', at: '2026-11-21T10:00:00.123456Z' },
      { amount: '1234567890123456789012345678.0123456789', t: 'text', doc: '"5"', dt: 'text', at: null },
    ])
  })

  it('decimal keys kept as text scan and match numerically', async () => {
    await connector.ensureEntity(
      'prices',
      [
        { name: 'price', type: 'decimal', nativeType: '', nullable: false, precision: 30, scale: 20 },
        { name: 'label', type: 'text', nativeType: '', nullable: true },
      ],
      ['price'],
    )
    const prices = ['10', '9.5', '100', '-2', '0.00000000000000000001', '99999999.99999999999999999999', '99999999.99999999999999999998']
    await connector.apply('prices', { upserts: prices.map((price) => ({ price, label: price })), deletes: [] }, { keys: ['price'] })
    const rows = await scanAll('prices', { fields: ['label'], keys: ['price'], batchSize: 2 })
    expect(rows.map((r) => r.price)).toEqual(['-2', '0.00000000000000000001', '9.5', '10', '100', '99999999.99999999999999999998', '99999999.99999999999999999999'])
    expect(await connector.count('prices', [{ field: 'price', op: '=', value: '9.50' }])).toBe(1)
    expect(await connector.count('prices', [{ field: 'price', op: '>', value: '9.5' }])).toBe(4)
    expect((await connector.lookup('prices', ['price'], [['10.0']], ['label'])).map((r) => r.label)).toEqual(['10'])
  })

  it('writes only the columns present in the rows', async () => {
    raw.exec(`CREATE TABLE partial (id INTEGER PRIMARY KEY, a TEXT, b TEXT)`)
    raw.exec(`INSERT INTO partial VALUES (1, 'a1', 'b1')`)
    await connector.apply('partial', { upserts: [{ id: 1, a: 'a1*' }, { id: 2, b: 'b2' }], deletes: [] }, { keys: ['id'] })
    expect(raw.prepare('SELECT * FROM partial ORDER BY id').all()).toEqual([
      { id: 1n, a: 'a1*', b: 'b1' },
      { id: 2n, a: null, b: 'b2' },
    ])
  })

  it('without a unique index on the keys, updates then inserts, idempotently', async () => {
    raw.exec(`CREATE TABLE loose (code TEXT, qty INTEGER)`)
    raw.exec(`INSERT INTO loose VALUES ('a', 1)`)
    const batch = { upserts: [{ code: 'a', qty: 2 }, { code: 'b', qty: 3 }], deletes: [] }
    expect(await connector.apply('loose', batch, { keys: ['code'] })).toEqual({ upserted: 2, deleted: 0 })
    expect(await connector.apply('loose', batch, { keys: ['code'] })).toEqual({ upserted: 0, deleted: 0 })
    expect(raw.prepare('SELECT code, qty FROM loose ORDER BY code').all()).toEqual([
      { code: 'a', qty: 2n },
      { code: 'b', qty: 3n },
    ])
  })

  it('an unchanged row is not rewritten', async () => {
    raw.exec(`CREATE TABLE stable (id INTEGER PRIMARY KEY, v TEXT)`)
    const batch = { upserts: [{ id: 1, v: 'x' }], deletes: [] }
    expect((await connector.apply('stable', batch, { keys: ['id'] })).upserted).toBe(1)
    expect((await connector.apply('stable', batch, { keys: ['id'] })).upserted).toBe(0)
    expect((await connector.apply('stable', { upserts: [{ id: 1, v: null }], deletes: [] }, { keys: ['id'] })).upserted).toBe(1)
  })

  it('CHECK, UNIQUE and FOREIGN KEY failures are RecordErrors that roll the batch back', async () => {
    raw.exec(`
      CREATE TABLE parents (id INTEGER PRIMARY KEY);
      INSERT INTO parents VALUES (1);
      CREATE TABLE kids (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parents(id), nick TEXT UNIQUE, age INTEGER CHECK (age >= 0));
    `)
    const cases: [Row, RegExp][] = [
      [{ id: 2, parent: 1, nick: 'b', age: -1 }, /CHECK/],
      [{ id: 2, parent: 1, nick: 'taken', age: 1 }, /'nick'/],
      [{ id: 2, parent: 42, nick: 'c', age: 1 }, /foreign key/],
    ]
    await connector.apply('kids', { upserts: [{ id: 1, parent: 1, nick: 'taken', age: 3 }], deletes: [] }, { keys: ['id'] })
    for (const [row, message] of cases) {
      const error = await connector.apply('kids', { upserts: [{ id: 3, parent: 1, nick: 'ok', age: 5 }, row], deletes: [] }, { keys: ['id'] }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(RecordError)
      expect((error as RecordError).code).toBe('VALUE_REJECTED')
      expect((error as RecordError).failure).toBe('data')
      expect((error as Error).message).toMatch(message)
      expect((error as Error).message).toContain("'kids'")
      expect(await connector.count('kids')).toBe(1)
    }
  })

  it('a value the codec cannot encode is a RecordError naming the field', async () => {
    raw.exec(`CREATE TABLE typed (id INTEGER PRIMARY KEY, at TIMESTAMP, n INTEGER)`)
    const error = await connector.apply('typed', { upserts: [{ id: 1, at: 'whenever', n: 1 }], deletes: [] }, { keys: ['id'] }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RecordError)
    expect((error as Error).message).toContain("'at'")
    const tooBig = await connector.apply('typed', { upserts: [{ id: 1, at: null, n: 2n ** 64n }], deletes: [] }, { keys: ['id'] }).catch((e: unknown) => e)
    expect(tooBig).toBeInstanceOf(RecordError)
    expect((tooBig as Error).message).toContain("'n'")
  })

  it('a record without a key value is rejected rather than given a key SQLite invents', async () => {
    raw.exec(`CREATE TABLE auto (id INTEGER PRIMARY KEY, v TEXT)`)
    const error = await connector.apply('auto', { upserts: [{ id: null, v: 'x' }], deletes: [] }, { keys: ['id'] }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RecordError)
    expect((error as RecordError).code).toBe('KEY_MISSING')
    expect(await connector.count('auto')).toBe(0)
  })

  it('the connection is free between scan batches, so the engine can write while it reads', async () => {
    raw.exec(`CREATE TABLE busy (id INTEGER PRIMARY KEY, v TEXT)`)
    await connector.apply('busy', { upserts: Array.from({ length: 10 }, (_, i) => ({ id: i, v: 'x' })), deletes: [] }, { keys: ['id'] })
    let batches = 0
    for await (const batch of connector.scan('busy', { fields: ['v'], keys: ['id'], batchSize: 3 })) {
      batches++
      await connector.apply('busy', { upserts: batch.map((r) => ({ ...r, v: 'seen' })), deletes: [] }, { keys: ['id'] })
    }
    expect(batches).toBe(4)
    expect(await connector.count('busy', [{ field: 'v', op: '=', value: 'seen' }])).toBe(10)
  })
})
