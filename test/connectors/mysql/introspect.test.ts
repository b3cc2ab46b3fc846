/**
 * Describing tables made natively: canonical types, limits, keys, foreign
 * keys, case-insensitive key collations marked, names with backticks and
 * spaces, entities of other databases, and what `create: true` makes.
 */
import { describe, expect, it } from 'vitest'
import { entityCandidates } from '../../../src/connectors/mysql/introspect.js'
import { NotFoundError } from '../../../src/errors.js'
import type { FieldInfo } from '../../../src/values/canonical.js'
import { createMysqlDatabase, hasMysql, mysqlQuery } from '../../helpers/services.js'
import { rejection, scanAll, useMysqlFixture } from './fixture.js'

describe('MySQL entity names', () => {
  it('splits database.table, keeps backticked names whole, and defaults to the URL database', () => {
    expect(entityCandidates('orders', 'shop')).toEqual([['shop', 'orders']])
    expect(entityCandidates('crm.orders', 'shop')).toEqual([
      ['crm', 'orders'],
      ['shop', 'crm.orders'],
    ])
    expect(entityCandidates('`my db`.`odd.name`', 'shop')).toEqual([['my db', 'odd.name']])
    expect(entityCandidates('`a``b`', 'shop')).toEqual([['shop', 'a`b']])
    expect(entityCandidates('orders', '')).toEqual([])
  })
})

const field = (name: string, type: FieldInfo['type'], extra: Partial<FieldInfo> = {}): FieldInfo => ({ name, type, nativeType: '', nullable: true, ...extra })

describe.skipIf(!(await hasMysql()))('MySQL introspection', () => {
  const my = useMysqlFixture()

  it('maps native types to canonical ones with limits, precision and nullability', async () => {
    await my.sql(`CREATE TABLE kinds (
      id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, flag TINYINT(1) NOT NULL, small TINYINT, big BIGINT UNSIGNED, yr YEAR,
      price DECIMAL(12,2), ratio DOUBLE, single FLOAT, name VARCHAR(120) NOT NULL, code CHAR(3), body MEDIUMTEXT, kind ENUM('a','b'),
      raw VARBINARY(16), pic LONGBLOB, born DATE, seen DATETIME(6), stamp TIMESTAMP(3) NULL, clock TIME(6), doc JSON,
      area POINT, total INT AS (id * 2) VIRTUAL)`)
    const info = await my.connector().describe('kinds')
    const byName = Object.fromEntries(info.fields.map((f) => [f.name, f]))
    const types = Object.fromEntries(info.fields.map((f) => [f.name, f.type]))
    expect(types).toEqual({
      id: 'integer', flag: 'boolean', small: 'integer', big: 'integer', yr: 'integer', price: 'decimal', ratio: 'float', single: 'float',
      name: 'text', code: 'text', body: 'text', kind: 'enum', raw: 'bytes', pic: 'bytes', born: 'date', seen: 'localtimestamp', stamp: 'timestamp',
      clock: 'time', doc: 'json', area: 'text', total: 'integer',
    })
    expect(byName.name).toMatchObject({ maxLength: 120, nullable: false })
    expect(byName.code!.maxLength).toBe(3)
    expect(byName.body!.maxLength).toBeUndefined()
    expect([byName.price!.precision, byName.price!.scale]).toEqual([12, 2])
    expect(byName.big!.nativeType).toBe('bigint(20) unsigned')
    expect(info.primaryKey).toEqual(['id'])
  })

  it('reads spatial values as WKT text', async () => {
    await my.sql(`CREATE TABLE places (id INT PRIMARY KEY, spot POINT)`)
    await my.sql(`INSERT INTO places VALUES (1, ST_GeomFromText('POINT(1 2)'))`)
    expect((await scanAll(my.connector(), 'places', { fields: ['spot'], keys: ['id'] })).rows).toEqual([{ id: 1, spot: 'POINT(1 2)' }])
  })

  it('reports unique keys (not prefix ones) and foreign keys, composite ones in order', async () => {
    await my.sql(`CREATE TABLE customers (tenant INT, id INT, email VARCHAR(200), nick VARCHAR(200), PRIMARY KEY (tenant, id), UNIQUE KEY (email), UNIQUE KEY (nick(10)))`)
    await my.sql(`CREATE TABLE orders (id INT PRIMARY KEY, tenant INT, customer INT, FOREIGN KEY (tenant, customer) REFERENCES customers (tenant, id))`)
    const customers = await my.connector().describe('customers')
    expect(customers.primaryKey).toEqual(['tenant', 'id'])
    expect(customers.uniqueKeys).toEqual([['email']])
    const orders = await my.connector().describe('orders')
    expect(orders.foreignKeys).toEqual([{ fields: ['tenant', 'customer'], references: { entity: 'customers', fields: ['tenant', 'id'] } }])
  })

  it('marks text key columns whose collation merges keys, in nativeType', async () => {
    await my.sql('CREATE TABLE tags (ci VARCHAR(20) COLLATE utf8mb4_general_ci, pad VARCHAR(20) COLLATE utf8mb4_bin, exact VARCHAR(20) COLLATE utf8mb4_nopad_bin)')
    const info = await my.connector().describe('tags')
    expect(info.fields.map((f) => f.nativeType)).toEqual(['varchar(20) COLLATE utf8mb4_general_ci', 'varchar(20) COLLATE utf8mb4_bin', 'varchar(20)'])
  })

  it('finds names with backticks, spaces and mixed case exactly, and tables of other databases as db.table', async () => {
    await my.sql('CREATE TABLE `Odd ``Name`` Here` (`Key Col` INT PRIMARY KEY, `MixedCase` TEXT, `back``tick` VARCHAR(10))')
    const info = await my.connector().describe('Odd `Name` Here')
    expect(info.name).toBe('Odd `Name` Here')
    expect(info.fields.map((f) => f.name)).toEqual(['Key Col', 'MixedCase', 'back`tick'])
    // Written, read, filtered and deleted through those names.
    const rows = [{ 'Key Col': 1, MixedCase: 'a', 'back`tick': '`x`' }, { 'Key Col': 2, MixedCase: 'b', 'back`tick': null }]
    await my.connector().apply('Odd `Name` Here', { upserts: rows, deletes: [] }, { keys: ['Key Col'] })
    const filtered = await scanAll(my.connector(), 'Odd `Name` Here', { fields: ['MixedCase', 'back`tick'], keys: ['Key Col'], filters: [{ field: 'back`tick', op: '=', value: '`x`' }] })
    expect(filtered.rows).toEqual([rows[0]])
    await my.connector().apply('Odd `Name` Here', { upserts: [], deletes: [[1]] }, { keys: ['Key Col'] })
    expect((await scanAll(my.connector(), 'Odd `Name` Here', { fields: ['back`tick'], keys: ['Key Col'] })).rows).toEqual([{ 'Key Col': 2, 'back`tick': null }])
    expect((await my.connector().describe('`Odd ``Name`` Here`')).name).toBe('Odd `Name` Here')
    // Table names are case-sensitive on Linux servers.
    expect(await my.connector().discover('odd `name` here')).toEqual([])

    const other = await createMysqlDatabase('syncline_other')
    try {
      await mysqlQuery(other.url, 'CREATE TABLE elsewhere (id INT PRIMARY KEY)')
      const found = await my.connector().discover(`${other.name}.elsewhere`)
      expect(found.map((e) => e.name)).toEqual([`${other.name}.elsewhere`])
    } finally {
      await other.drop()
    }
  })

  it('a missing entity is ENTITY_NOT_FOUND naming the closest one and how to name entities', async () => {
    await my.sql('CREATE TABLE invoices (id INT PRIMARY KEY)')
    const error = await rejection(my.connector().describe('invoice'))
    expect(error).toBeInstanceOf(NotFoundError)
    expect(error.message).toContain("Did you mean 'invoices'?")
    expect(error.message).toContain('database.table')
  })

  it('views are described, and writing to one is a config error', async () => {
    await my.sql('CREATE TABLE base (id INT PRIMARY KEY, v INT)')
    await my.sql('CREATE VIEW base_view AS SELECT id, v FROM base')
    expect((await my.connector().describe('base_view')).fields.map((f) => f.name)).toEqual(['id', 'v'])
    const error = await rejection(my.connector().apply('base_view', { upserts: [{ id: 1, v: 1 }], deletes: [] }, { keys: ['id'] }))
    expect(error).toMatchObject({ code: 'PLAN_INVALID', failure: 'config' })
  })

  it('create: true maps canonical types to MySQL types that hold every value', async () => {
    const fields = [
      field('id', 'integer', { nullable: false }),
      field('name', 'text'),
      field('code', 'text', { maxLength: 40 }),
      field('huge', 'text', { maxLength: 100_000 }),
      field('price', 'decimal', { precision: 38, scale: 10 }),
      field('any_number', 'decimal'),
      field('ratio', 'float'),
      field('flag', 'boolean'),
      field('uid', 'uuid'),
      field('pic', 'bytes'),
      field('at', 'timestamp'),
      field('wall', 'localtimestamp'),
      field('day', 'date'),
      field('clock', 'time'),
      field('doc', 'json'),
    ]
    await my.connector().ensureEntity('created', fields, ['id'])
    const columns = await my.sql<{ name: string; type: string; collation: string | null }>(
      'SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, COLLATION_NAME AS collation FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [my.name(), 'created'],
    )
    expect(Object.fromEntries(columns.map((c) => [c.name, c.type]))).toEqual({
      id: 'bigint(20)', name: 'longtext', code: 'varchar(40)', huge: 'longtext', price: 'decimal(38,10)', any_number: 'decimal(65,30)', ratio: 'double',
      flag: 'tinyint(1)', uid: 'uuid', pic: 'longblob', at: 'datetime(6)', wall: 'datetime(6)', day: 'date', clock: 'time(6)', doc: 'longtext',
    })
    expect(columns.find((c) => c.name === 'code')!.collation).toBe('utf8mb4_nopad_bin')
    const [table] = await my.sql<{ engine: string; collation: string }>('SELECT ENGINE AS engine, TABLE_COLLATION AS collation FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [my.name(), 'created'])
    expect(table).toEqual({ engine: 'InnoDB', collation: 'utf8mb4_nopad_bin' })
    const info = await my.connector().describe('created')
    expect(info.fields.map((f) => f.type)).toEqual(fields.map((f) => f.type))
    expect(info.primaryKey).toEqual(['id'])
  })

  it('create: true sizes text keys to fit one index, and keeps the row within MySQL\'s row size', async () => {
    const wide = Array.from({ length: 8 }, (_, i) => field(`note${i}`, 'text', { maxLength: 5000 }))
    await my.connector().ensureEntity('wide', [field('k', 'text', { nullable: false }), field('n', 'integer', { nullable: false }), ...wide], ['k', 'n'])
    const info = await my.connector().describe('wide')
    expect(info.primaryKey).toEqual(['k', 'n'])
    expect(info.fields[0]!.maxLength).toBe(765)
    // 5000 characters are 20,002 bytes each: three fit the row, the rest become LONGTEXT.
    expect(info.fields.slice(2).map((f) => f.maxLength)).toEqual([5000, 5000, 5000, undefined, undefined, undefined, undefined, undefined])
    // A key longer than its column is a rejected record, not a cut one.
    const error = await rejection(my.connector().apply('wide', { upserts: [{ k: 'x'.repeat(766), n: 1 }], deletes: [] }, { keys: ['k', 'n'] }))
    expect(error).toMatchObject({ code: 'VALUE_REJECTED', failure: 'data' })
    expect(error.message).toContain('765')
  })
})
