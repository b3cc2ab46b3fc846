/**
 * Discovering PostgreSQL entities and creating destination tables: names a
 * plan can use (`schema.table`), canonical and native types, keys, and
 * identifiers with quotes, spaces and mixed case.
 */
import { describe, expect, it } from 'vitest'
import { NotFoundError } from '../../../src/errors.js'
import type { FieldInfo } from '../../../src/values/canonical.js'
import { hasPostgres } from '../../helpers/services.js'
import { rejection, scanAll, usePgFixture } from './fixture.js'

const field = (name: string, type: FieldInfo['type'], extra: Partial<FieldInfo> = {}): FieldInfo => ({ name, type, nativeType: '', nullable: true, ...extra })

describe.skipIf(!(await hasPostgres()))('PostgreSQL discovery', () => {
  const pg = usePgFixture()
  const connector = () => pg.connector()

  it('lists tables and views as schema.table with fields, keys and foreign keys', async () => {
    await pg.sql(`CREATE SCHEMA sales`)
    await pg.sql(`CREATE TABLE sales.customers (id bigint PRIMARY KEY, email varchar(120) NOT NULL UNIQUE, name char(10), balance numeric(12,2), tags text[])`)
    await pg.sql(`CREATE TABLE sales.orders (id int, region text, customer_id bigint REFERENCES sales.customers (id), PRIMARY KEY (region, id))`)
    await pg.sql(`CREATE VIEW public.big_customers AS SELECT id, email FROM sales.customers WHERE balance > 1000`)
    const all = await connector().discover()
    expect(all.map((e) => e.name)).toEqual(['public.big_customers', 'sales.customers', 'sales.orders'])
    const customers = all.find((e) => e.name === 'sales.customers')!
    expect(customers.fields).toEqual([
      { name: 'id', type: 'integer', nativeType: 'bigint', nullable: false, bits: 64 },
      { name: 'email', type: 'text', nativeType: 'character varying(120)', nullable: false, maxLength: 120 },
      { name: 'name', type: 'text', nativeType: 'character(10)', nullable: true, maxLength: 10 },
      { name: 'balance', type: 'decimal', nativeType: 'numeric(12,2)', nullable: true, precision: 12, scale: 2 },
      { name: 'tags', type: 'array', elementType: 'text', nativeType: 'text[]', nullable: true },
    ])
    expect(customers.primaryKey).toEqual(['id'])
    expect(customers.uniqueKeys).toEqual([['email']])
    const orders = all.find((e) => e.name === 'sales.orders')!
    expect(orders.primaryKey).toEqual(['region', 'id'])
    expect(orders.foreignKeys).toEqual([{ fields: ['customer_id'], references: { entity: 'sales.customers', fields: ['id'] } }])
    expect(all.find((e) => e.name === 'public.big_customers')!.primaryKey).toEqual([])
  })

  it('a bare name means schema public; describe and discover(name) agree', async () => {
    await pg.sql(`CREATE TABLE public.plain (id int PRIMARY KEY)`)
    expect((await connector().describe('plain')).name).toBe('public.plain')
    expect((await connector().discover('public.plain')).map((e) => e.name)).toEqual(['public.plain'])
    expect(await connector().discover('nowhere.plain')).toEqual([])
  })

  it('a missing entity is ENTITY_NOT_FOUND naming the closest one and the fix', async () => {
    const error = await rejection(connector().describe('sales.custmers'))
    expect(error).toBeInstanceOf(NotFoundError)
    expect(error).toMatchObject({ code: 'ENTITY_NOT_FOUND', failure: 'config' })
    expect(error.message).toContain("Did you mean 'sales.customers'?")
    expect(error.message).toContain('create: true')
    expect((await rejection(connector().describe('plian'))).message).toContain("'plain'")
  })

  it('creates a table from canonical fields with the documented native types', async () => {
    const fields = [
      field('id', 'integer', { nullable: false }),
      field('price', 'decimal', { precision: 12, scale: 2 }),
      field('ratio', 'decimal'),
      field('score', 'float'),
      field('code', 'text', { maxLength: 40, nullable: false }),
      field('notes', 'text'),
      field('active', 'boolean'),
      field('ref', 'uuid'),
      field('blob', 'bytes'),
      field('seen_at', 'timestamp'),
      field('born', 'date'),
      field('opens', 'time'),
      field('doc', 'json'),
    ]
    await connector().ensureEntity('warehouse.products', fields, ['id'])
    // Idempotent: a second call changes nothing and does not fail.
    await connector().ensureEntity('warehouse.products', fields, ['id'])
    const info = await connector().describe('warehouse.products')
    expect(info.fields.map((f) => [f.name, f.nativeType, f.nullable])).toEqual([
      ['id', 'bigint', false],
      ['price', 'numeric(12,2)', true],
      ['ratio', 'numeric', true],
      ['score', 'double precision', true],
      ['code', 'character varying(40)', false],
      ['notes', 'text', true],
      ['active', 'boolean', true],
      ['ref', 'uuid', true],
      ['blob', 'bytea', true],
      ['seen_at', 'timestamp with time zone', true],
      ['born', 'date', true],
      ['opens', 'time without time zone', true],
      ['doc', 'jsonb', true],
    ])
    expect(info.fields.map((f) => f.type)).toEqual(fields.map((f) => f.type))
    expect(info.primaryKey).toEqual(['id'])
  })

  it('handles quotes, spaces and mixed case in schema, table and field names', async () => {
    const entity = 'Sales "EU".Order Lines'
    const fields = [field('Order "No"', 'text', { nullable: false }), field('Line', 'integer', { nullable: false }), field('unit price', 'decimal', { precision: 10, scale: 2 })]
    await connector().ensureEntity(entity, fields, ['Order "No"', 'Line'])
    const info = await connector().describe(entity)
    expect(info.name).toBe(entity)
    expect(info.primaryKey).toEqual(['Order "No"', 'Line'])
    // The quoted form names the same table.
    expect((await connector().describe('"Sales ""EU"""."Order Lines"')).name).toBe(entity)
    const rows = [
      { 'Order "No"': "O'1", Line: 2, 'unit price': '1.50' },
      { 'Order "No"': "O'1", Line: 1, 'unit price': '2.00' },
    ]
    await connector().apply(entity, { upserts: rows, deletes: [] }, { keys: ['Order "No"', 'Line'] })
    const scanned = await scanAll(connector(), entity, {
      fields: ['unit price'],
      keys: ['Order "No"', 'Line'],
      filters: [{ field: 'unit price', op: '>', value: '1' }],
    })
    expect(scanned.rows).toEqual([rows[1], rows[0]])
    expect(await connector().lookup(entity, ['Order "No"', 'Line'], [["O'1", 2]], ['unit price'])).toEqual([rows[0]])
    expect(await connector().count(entity, [{ field: 'Order "No"', op: '=', value: "O'1" }])).toBe(2)
    expect((await connector().apply(entity, { upserts: [], deletes: [["O'1", 1]] }, { keys: ['Order "No"', 'Line'] })).deleted).toBe(1)
    expect(await pg.sql(`SELECT count(*)::int AS n FROM "Sales ""EU"""."Order Lines"`)).toEqual([{ n: 1 }])
  })

  it('a table created after a failed describe is found (no stale cache)', async () => {
    await rejection(connector().describe('late_table'))
    await pg.sql(`CREATE TABLE late_table (id int PRIMARY KEY)`)
    expect((await connector().describe('late_table')).primaryKey).toEqual(['id'])
    await connector().apply('late_table', { upserts: [{ id: 1 }], deletes: [] }, { keys: ['id'] })
  })

  it('refuses to write into a view, with a message that says so', async () => {
    const error = await rejection(connector().apply('big_customers', { upserts: [{ id: 1, email: 'a' }], deletes: [] }, { keys: ['id'] }))
    expect(error).toMatchObject({ failure: 'config' })
    expect(error.message).toContain('view')
  })
})
