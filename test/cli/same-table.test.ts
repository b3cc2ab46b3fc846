/**
 * One physical table reached through two connection names (issue 6, item 3):
 * a sync whose destination is its own source would overwrite it, and a
 * filtered full sync with deletes would delete the source rows the filter
 * leaves out. `run` refuses it with exit 2 naming both connections and the
 * table, and so does `validate --live`; different tables, databases or
 * files on the same server or folder are not refused.
 */
import { mkdirSync, symlinkSync } from 'node:fs'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createMysqlDatabase, createPgDatabase, hasMysql, hasPostgres, mysqlQuery, pgQuery } from '../helpers/services.js'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines, STACK_FRAME } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

const pgAvailable = await hasPostgres()
const mysqlAvailable = await hasMysql()

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

let ws: Workspace | undefined
afterEach(() => {
  ws?.remove()
  ws = undefined
})

/** A filtered full sync with deletes from `shop` into `copy`: the reproduction of the issue. */
function plan(shopUrl: string, copyUrl: string, source = 'items', destination = 'items'): string {
  return `connections:
  shop:
    url: ${shopUrl}
  copy:
    url: ${copyUrl}
syncs:
  - id: active
    source: { connection: shop, entity: ${source} }
    destination: { connection: copy, entity: ${destination}, create: true }
    filters: [{ field: status, op: "=", value: active }]
    deletes: propagate
`
}

/** What a refused run and a refused live validation must say. */
async function expectRefused(w: Workspace, table: RegExp): Promise<void> {
  const run = await w.run(['run', '--json'])
  expect(run.code, run.all).toBe(2)
  const [line] = jsonLines(run.stdout)
  expect(line).toMatchObject({ id: 'active', status: 'failed', read: 0, deleted: 0, errorCode: 'PLAN_INVALID' })
  const error = String(line!.error)
  expect(error).toMatch(/'shop'/)
  expect(error).toMatch(/'copy'/)
  expect(error).toMatch(table)
  expect(error).toMatch(/point the destination at another/i)
  expect(run.all).not.toMatch(STACK_FRAME)

  const validate = await w.run(['validate', '--live'])
  expect(validate.code, validate.all).toBe(2)
  expect(validate.all).toMatch(/syncs\[0\]\.destination/)
  expect(validate.all).toMatch(/'shop'.*'copy'|'copy'.*'shop'/)
  expect(validate.all).toMatch(table)
}

const SQLITE_ITEMS = `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL);
  INSERT INTO items VALUES (1, 'kept', 'active'), (2, 'retired', 'inactive'), (3, 'also kept', 'active'), (4, 'archived', 'inactive');`

describe('one SQLite file under two connection names', () => {
  it('is refused with exit 2 for different spellings of the path, and no source row is deleted', async () => {
    ws = workspace()
    ws.sqlite('shop.db', SQLITE_ITEMS)
    for (const copyUrl of ['sqlite:shop.db', `sqlite:${ws.path('shop.db')}`, `sqlite://${ws.path('shop.db')}`, 'sqlite:./data/../shop.db']) {
      mkdirSync(ws.path('data'), { recursive: true })
      ws.write('syncline.yaml', plan('sqlite:./shop.db', copyUrl))
      await expectRefused(ws, /shop\.db/)
      expect(ws.sqliteRows('shop.db', 'SELECT id FROM items ORDER BY id'), copyUrl).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }])
    }
  })

  it('is refused through a symbolic link and a differently cased table name', async () => {
    ws = workspace()
    ws.sqlite('shop.db', SQLITE_ITEMS)
    symlinkSync(ws.path('shop.db'), ws.path('link.db'))
    ws.write('syncline.yaml', plan('sqlite:./shop.db', 'sqlite:./link.db', 'items', 'ITEMS'))
    await expectRefused(ws, /items/)
    expect(ws.sqliteRows('shop.db', 'SELECT count(*) AS n FROM items')).toEqual([{ n: 4 }])
  })

  it('is refused for two names of one table on one connection', async () => {
    ws = workspace()
    ws.sqlite('shop.db', SQLITE_ITEMS)
    ws.write('syncline.yaml', plan('sqlite:./shop.db', 'sqlite:./shop.db').replace('connection: copy', 'connection: shop').replace('entity: items, create', 'entity: main.items, create'))
    const run = await ws.run(['run', '--json'])
    expect(run.code, run.all).toBe(2)
    expect(String(jsonLines(run.stdout)[0]!.error)).toMatch(/source 'shop\.items' and destination 'shop\.main\.items' are both table items in .*shop\.db/)
    expect(ws.sqliteRows('shop.db', 'SELECT count(*) AS n FROM items')).toEqual([{ n: 4 }])
  })

  it('runs between two different files, and between two tables of one file', async () => {
    ws = workspace()
    ws.sqlite('shop.db', SQLITE_ITEMS)
    ws.write('syncline.yaml', plan('sqlite:./shop.db', 'sqlite:./backup.db'))
    const other = await ws.run(['run', '--json'])
    expect(other.code, other.all).toBe(0)
    expect(jsonLines(other.stdout)[0]).toMatchObject({ status: 'succeeded', created: 2 })

    ws.write('syncline.yaml', plan('sqlite:./shop.db', 'sqlite:shop.db', 'items', 'active_items'))
    expect((await ws.run(['validate', '--live'])).code).toBe(0)
    const sameFile = await ws.run(['run', '--json'])
    expect(sameFile.code, sameFile.all).toBe(0)
    expect(ws.sqliteRows('shop.db', 'SELECT id FROM active_items ORDER BY id')).toEqual([{ id: 1 }, { id: 3 }])
    expect(ws.sqliteRows('shop.db', 'SELECT count(*) AS n FROM items')).toEqual([{ n: 4 }])
  })

  it('two in-memory databases are never the same table', async () => {
    ws = workspace()
    ws.write('syncline.yaml', plan('sqlite::memory:', 'sqlite::memory:'))
    // Each connection has its own empty memory database: items is simply missing.
    const run = await ws.run(['run', '--json'])
    expect(run.code).toBe(2)
    expect(String(jsonLines(run.stdout)[0]!.error)).not.toMatch(/same table/)
  })
})

describe('one CSV file under two connection names', () => {
  it('is refused with exit 2, and the file keeps every row', async () => {
    ws = workspace()
    mkdirSync(ws.path('data'))
    const csv = 'id,name,status\n1,kept,active\n2,retired,inactive\n'
    ws.write('data/items.csv', csv)
    ws.write('syncline.yaml', plan('csv:./data', `csv:${ws.path('data')}/`))
    await expectRefused(ws, /items\.csv/)
    const { readFileSync } = await import('node:fs')
    expect(readFileSync(ws.path('data/items.csv'), 'utf8')).toBe(csv)
  })
})

describe.skipIf(!pgAvailable)('one PostgreSQL table under two connection names', () => {
  let database: Awaited<ReturnType<typeof createPgDatabase>>
  let other: Awaited<ReturnType<typeof createPgDatabase>>
  beforeAll(async () => {
    database = await createPgDatabase('syncline_same_table')
    other = await createPgDatabase('syncline_same_table_other')
    await pgQuery(database.url, `CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, status text NOT NULL);
      INSERT INTO items VALUES (1, 'kept', 'active'), (2, 'retired', 'inactive')`)
  })
  const role = `syncline_ident_${process.pid}`
  afterAll(async () => {
    await database?.drop()
    await other?.drop()
    await pgQuery(database.url.replace(/\/[^/]*$/, '/test'), `DROP ROLE IF EXISTS ${role}`)
  })

  it('127.0.0.1 and localhost, public.items and items: refused with exit 2, no source row deleted', async () => {
    const viaLocalhost = new URL(database.url)
    viaLocalhost.hostname = 'localhost'
    ws = workspace()
    ws.write('syncline.yaml', plan(database.url, viaLocalhost.toString(), 'items', 'public.items'))
    await expectRefused(ws, new RegExp(`public\\.items in database ${database.name}`))
    expect(await pgQuery(database.url, 'SELECT id FROM items ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }])
  })

  it('is refused too for a user who may not read the cluster identifier (pg_control_system revoked)', async () => {
    await pgQuery(database.url, `CREATE ROLE ${role} LOGIN; GRANT SELECT, INSERT, UPDATE, DELETE ON items TO ${role};
      REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC`)
    const asRole = new URL(database.url)
    asRole.username = role
    const viaLocalhost = new URL(asRole)
    viaLocalhost.hostname = 'localhost'
    ws = workspace()
    ws.write('syncline.yaml', plan(asRole.toString(), viaLocalhost.toString()))
    await expectRefused(ws, /public\.items/)
    expect(await pgQuery(database.url, 'SELECT id FROM items ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }])
  })

  it('the same table name in another database of the same server is not refused', async () => {
    await pgQuery(other.url, `CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, status text NOT NULL)`)
    ws = workspace()
    ws.write('syncline.yaml', plan(database.url, other.url))
    expect((await ws.run(['validate', '--live'])).code).toBe(0)
    const run = await ws.run(['run', '--json'])
    expect(run.code, run.all).toBe(0)
    expect(await pgQuery(other.url, 'SELECT id FROM items ORDER BY id')).toEqual([{ id: 1 }])
    expect(await pgQuery(database.url, 'SELECT count(*)::int AS n FROM items')).toEqual([{ n: 2 }])
  })
})

describe.skipIf(!mysqlAvailable)('one MariaDB table under two connection names', () => {
  let database: Awaited<ReturnType<typeof createMysqlDatabase>>
  let other: Awaited<ReturnType<typeof createMysqlDatabase>>
  beforeAll(async () => {
    database = await createMysqlDatabase('syncline_same_table')
    other = await createMysqlDatabase('syncline_same_table_other')
    await mysqlQuery(database.url, `CREATE TABLE items (id int PRIMARY KEY, name varchar(50) NOT NULL, status varchar(20) NOT NULL)`)
    await mysqlQuery(database.url, `INSERT INTO items VALUES (1, 'kept', 'active'), (2, 'retired', 'inactive')`)
  })
  afterAll(async () => {
    await database?.drop()
    await other?.drop()
  })

  it('mysql:// on 127.0.0.1 and mariadb:// on localhost, another default database: refused with exit 2', async () => {
    // The second connection's database is another one; the entity names the first explicitly.
    const viaLocalhost = new URL(other.url)
    viaLocalhost.protocol = 'mariadb:'
    viaLocalhost.hostname = 'localhost'
    ws = workspace()
    ws.write('syncline.yaml', plan(database.url, viaLocalhost.toString(), 'items', `${database.name}.items`))
    await expectRefused(ws, new RegExp(`${database.name}\\.items`))
    expect(await mysqlQuery(database.url, 'SELECT id FROM items ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }])
  })

  it('the same table name in another database of the same server is not refused', async () => {
    await mysqlQuery(other.url, `CREATE TABLE items (id int PRIMARY KEY, name varchar(50) NOT NULL, status varchar(20) NOT NULL)`)
    ws = workspace()
    ws.write('syncline.yaml', plan(database.url, other.url))
    expect((await ws.run(['validate', '--live'])).code).toBe(0)
    const run = await ws.run(['run', '--json'])
    expect(run.code, run.all).toBe(0)
    expect(await mysqlQuery(other.url, 'SELECT id FROM items ORDER BY id')).toEqual([{ id: 1 }])
    expect(await mysqlQuery(database.url, 'SELECT count(*) AS n FROM items')).toEqual([{ n: 2 }])
  })
})
