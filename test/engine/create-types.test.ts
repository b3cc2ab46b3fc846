/**
 * `create: true` keeps the source's types wherever the destination has them
 * (issue 12): integer and float widths, varchar(n), numeric(p,s), boolean,
 * bytes, json vs jsonb; domains become their base type; a type with no
 * canonical form (tsvector, POINT) is copied as text with a note in the run
 * result. A round trip through SQLite restores the PostgreSQL types, because
 * the tables it creates record them in their declared types.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SyncPlanInput } from '../../src/plan/schema.js'
import { openDatasource, type TestDatasource } from './datasources.js'
import { openManager, readAll } from './sync-harness.js'

const sync = (id: string, source: string, destination: string): SyncPlanInput => ({
  id,
  source: { connection: 'src', entity: source },
  destination: { connection: 'dst', entity: destination, create: true },
})

/** Column name → type as PostgreSQL prints it. */
async function pgTypes(ds: TestDatasource, table: string): Promise<Record<string, string>> {
  const rows = await ds.query<{ name: string; type: string }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a
      WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [table],
  )
  return Object.fromEntries(rows.map((r) => [r.name, r.type]))
}

/** PostgreSQL types of the `kinds` table, and what `create: true` must make of them. */
const PG_KINDS: Record<string, [string, string]> = {
  id: ['integer PRIMARY KEY', 'integer'],
  s: ['smallint', 'smallint'],
  b: ['bigint', 'bigint'],
  name: ['varchar(40)', 'character varying(40)'],
  price: ['numeric(10,2)', 'numeric(10,2)'],
  ok: ['boolean', 'boolean'],
  raw: ['bytea', 'bytea'],
  doc: ['json', 'json'],
  docb: ['jsonb', 'jsonb'],
  r: ['real', 'real'],
  d: ['double precision', 'double precision'],
  code: ['short_code', 'character varying(20)'],
  n: ['small_count', 'smallint'],
}

const KINDS_ROWS = `INSERT INTO kinds VALUES
  (1, 32767, 9223372036854775807, 'forty', 12345678.90, true, '\\x00ff', '{"b": 1, "a": [2]}', '{"b": 1, "a": [2]}', 0.1, 0.1, 'ABC-1', 7, 'a fat cat'),
  (-2147483648, -32768, -9223372036854775808, NULL, -0.01, false, '\\x', 'null', '{}', 3.4028235e38, 1e308, NULL, 0, NULL)`

describe('create: true keeps PostgreSQL types', () => {
  let pg: TestDatasource
  let pg2: TestDatasource
  let lite: TestDatasource
  beforeAll(async () => {
    pg = await openDatasource('postgres')
    pg2 = await openDatasource('postgres')
    lite = await openDatasource('sqlite')
    await pg.exec(`CREATE DOMAIN short_code AS varchar(20)`)
    await pg.exec(`CREATE DOMAIN small_count AS smallint CHECK (VALUE >= 0)`)
    const columns = Object.entries(PG_KINDS).map(([name, [type]]) => `${name} ${type}`)
    await pg.exec(`CREATE TABLE kinds (${columns.join(', ')}, search tsvector)`)
    await pg.exec(KINDS_ROWS)
  })
  afterAll(async () => {
    await pg?.cleanup()
    await pg2?.cleanup()
    await lite?.cleanup()
  })

  it('PostgreSQL → PostgreSQL: widths, limits, json and jsonb, domains as their base type; tsvector as text with a note', async () => {
    const { manager, cleanup } = await openManager(pg, pg2, [sync('kinds', 'kinds', 'kinds')])
    try {
      const first = await manager.run('kinds')
      expect(first).toMatchObject({ status: 'succeeded', created: 2 })
      expect(first.notes).toEqual([expect.stringMatching(/field 'search' \(tsvector\) has no canonical type: it is copied as text.*search was created as a text column/)])
      const expected = Object.fromEntries(Object.entries(PG_KINDS).map(([name, [, created]]) => [name, created]))
      expect(await pgTypes(pg2, 'kinds')).toEqual({ ...expected, search: 'text' })
      const [copied] = await pg2.query<{ search: string; doc: string }>(`SELECT search, doc::text AS doc FROM kinds WHERE id = 1`)
      expect(copied).toEqual({ search: "'a' 'cat' 'fat'", doc: '{"a":[2],"b":1}' })
      expect(await readAll(pg2, 'kinds', ['id'])).toEqual(await readAll(pg, 'kinds', ['id']))
      // Every value landed exactly: nothing to do on the next run, and no note (nothing is created).
      const again = await manager.run('kinds')
      expect(again).toMatchObject({ status: 'succeeded', unchanged: 2, created: 0, updated: 0 })
      expect(again.notes).toBeUndefined()
    } finally {
      await cleanup()
    }
  })

  it('PostgreSQL → SQLite → PostgreSQL restores the types, which SQLite records in its declared types', async () => {
    const there = await openManager(pg, lite, [sync('out', 'kinds', 'kinds')])
    try {
      expect(await there.manager.run('out')).toMatchObject({ status: 'succeeded', created: 2 })
    } finally {
      await there.cleanup()
    }
    const declared = await lite.query<{ name: string; type: string }>(`SELECT name, type FROM pragma_table_info('kinds') ORDER BY cid`)
    expect(Object.fromEntries(declared.map((c) => [c.name, c.type]))).toEqual({
      id: 'INT4',
      s: 'SMALLINT',
      b: 'INTEGER',
      name: 'VARCHAR(40)',
      price: 'DECIMAL_TEXT(10,2)',
      ok: 'BOOLEAN',
      raw: 'BLOB',
      doc: 'JSON_PLAIN_TEXT',
      docb: 'JSON_TEXT',
      r: 'FLOAT4',
      d: 'REAL',
      code: 'VARCHAR(20)',
      n: 'SMALLINT',
      search: 'TEXT',
    })
    // Each column has the affinity its values need: integers stay integers, decimals and JSON stay text.
    const [stored] = await lite.query<Record<string, string>>(`SELECT typeof(id) AS id, typeof(s) AS s, typeof(price) AS price, typeof(doc) AS doc, typeof(r) AS r FROM kinds WHERE id = 1`)
    expect(stored).toEqual({ id: 'integer', s: 'integer', price: 'text', doc: 'text', r: 'real' })

    const back = await openManager(lite, pg, [sync('back', 'kinds', 'kinds_back')])
    try {
      expect(await back.manager.run('back')).toMatchObject({ status: 'succeeded', created: 2 })
      expect(await back.manager.run('back')).toMatchObject({ status: 'succeeded', unchanged: 2 })
    } finally {
      await back.cleanup()
    }
    const expected = Object.fromEntries(Object.entries(PG_KINDS).map(([name, [, created]]) => [name, created]))
    expect(await pgTypes(pg, 'kinds_back')).toEqual({ ...expected, search: 'text' })
    expect(await readAll(pg, 'kinds_back', ['id'])).toEqual(await readAll(pg, 'kinds', ['id']))
  })
})

describe('create: true keeps integer widths between MariaDB and PostgreSQL', () => {
  let my: TestDatasource
  let pg: TestDatasource
  beforeAll(async () => {
    my = await openDatasource('mysql')
    pg = await openDatasource('postgres')
  })
  afterAll(async () => {
    await my?.cleanup()
    await pg?.cleanup()
  })

  it('MariaDB → PostgreSQL: TINYINT…BIGINT, UNSIGNED as the next wider type (BIGINT UNSIGNED as numeric(20)), FLOAT as real; POINT as text with a note', async () => {
    await my.exec(`CREATE TABLE widths (id INT PRIMARY KEY, t TINYINT, s SMALLINT, m MEDIUMINT, b BIGINT, tu TINYINT UNSIGNED, su SMALLINT UNSIGNED,
      iu INT UNSIGNED, bu BIGINT UNSIGNED, f FLOAT, d DOUBLE, flag TINYINT(1), name VARCHAR(30), g POINT)`)
    await my.exec(`INSERT INTO widths VALUES
      (2147483647, -128, -32768, 8388607, -9223372036854775808, 255, 65535, 4294967295, 18446744073709551615, 0.1, 0.1, 1, 'x', ST_GeomFromText('POINT(1 2)')),
      (-2147483648, 127, 32767, -8388608, 9223372036854775807, 0, 0, 0, 0, -3.5, 1e308, 0, NULL, NULL)`)
    const { manager, cleanup } = await openManager(my, pg, [sync('widths', 'widths', 'widths')])
    try {
      const first = await manager.run('widths')
      expect(first).toMatchObject({ status: 'succeeded', created: 2 })
      expect(first.notes).toEqual([expect.stringMatching(/field 'g' \(point\) has no canonical type: it is copied as text/)])
      expect(await pgTypes(pg, 'widths')).toEqual({
        id: 'integer',
        t: 'smallint',
        s: 'smallint',
        m: 'integer',
        b: 'bigint',
        tu: 'smallint',
        su: 'integer',
        iu: 'bigint',
        bu: 'numeric(20,0)',
        f: 'real',
        d: 'double precision',
        flag: 'boolean',
        name: 'character varying(30)',
        g: 'text',
      })
      const [top] = await pg.query<{ bu: string; iu: string; f: number; g: string }>(`SELECT bu::text AS bu, iu::text AS iu, f, g FROM widths WHERE id = 2147483647`)
      expect(top).toEqual({ bu: '18446744073709551615', iu: '4294967295', f: 0.1, g: 'POINT(1 2)' })
      expect(await manager.run('widths')).toMatchObject({ status: 'succeeded', unchanged: 2 })
    } finally {
      await cleanup()
    }
  })

  it('PostgreSQL → MariaDB: smallint, integer, bigint, real and double keep their sizes', async () => {
    await pg.exec(`CREATE TABLE sizes (id integer PRIMARY KEY, s smallint, b bigint, r real, d double precision, name varchar(30), doc jsonb)`)
    await pg.exec(`INSERT INTO sizes VALUES (2147483647, 32767, 9223372036854775807, 0.1, 0.1, 'x', '{"a": 1}'), (-2147483648, -32768, -9223372036854775808, -1.5, 1e308, NULL, NULL)`)
    const { manager, cleanup } = await openManager(pg, my, [sync('sizes', 'sizes', 'sizes')])
    try {
      expect(await manager.run('sizes')).toMatchObject({ status: 'succeeded', created: 2 })
      const columns = await my.query<{ name: string; type: string }>(
        `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sizes' ORDER BY ORDINAL_POSITION`,
      )
      // Display widths (`int(11)`) are MariaDB's decoration, not a size.
      expect(Object.fromEntries(columns.map((c) => [c.name, c.type.replace(/int\(\d+\)/, 'int')]))).toEqual({
        id: 'int',
        s: 'smallint',
        b: 'bigint',
        r: 'float',
        d: 'double',
        name: 'varchar(30)',
        doc: expect.stringMatching(/^(json|longtext)$/),
      })
      expect(await readAll(my, 'sizes', ['id'])).toEqual(await readAll(pg, 'sizes', ['id']))
      expect(await manager.run('sizes')).toMatchObject({ status: 'succeeded', unchanged: 2 })
    } finally {
      await cleanup()
    }
  })
})
