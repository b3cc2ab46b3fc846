/**
 * Names MariaDB cannot hold (issue 6, item 10): identifiers there are
 * utf8mb3, so a table or column named with an emoji (any character beyond
 * U+FFFF) can never exist. Instead of a raw "Illegal mix of collations" or
 * "Invalid utf8mb4 character string" error, run and validate --live exit 2
 * naming the table (or field) and the fix.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createMysqlDatabase, hasMysql, mysqlQuery } from '../helpers/services.js'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines, STACK_FRAME } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

const mysqlAvailable = await hasMysql()

describe.skipIf(!mysqlAvailable)('emoji in MariaDB table and column names', () => {
  let database: Awaited<ReturnType<typeof createMysqlDatabase>>
  let ws: Workspace | undefined
  beforeAll(async () => {
    await ensureBuilt()
    database = await createMysqlDatabase('syncline_emoji')
  }, BUILD_TIMEOUT_MS)
  afterAll(() => database?.drop())
  afterEach(() => {
    ws?.remove()
    ws = undefined
  })

  function plan(syncs: string): string {
    return `connections:
  shop:
    url: sqlite:./shop.db
  db:
    url: ${database.url}
syncs:
${syncs}`
  }

  const expectClear = (text: string) => {
    expect(text).not.toMatch(/Illegal mix of collations|Invalid utf8mb\d character string|ER_CANT_AGGREGATE/)
    expect(text).not.toMatch(STACK_FRAME)
    expect(text).toMatch(/emoji/)
  }

  it('a destination table named with an emoji: exit 2 naming the table and a name to use', async () => {
    ws = workspace()
    ws.sqlite('shop.db', `CREATE TABLE "pizza🍕" (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO "pizza🍕" VALUES (1, 'margherita');`)
    ws.write('syncline.yaml', plan(`  - id: pizza
    source: { connection: shop, entity: "pizza🍕" }
    destination: { connection: db, entity: "pizza🍕", create: true }
`))
    const run = await ws.run(['run', '--json'])
    expect(run.code, run.all).toBe(2)
    const error = String(jsonLines(run.stdout)[0]!.error)
    expectClear(error)
    expect(error).toContain("'pizza🍕'")
    expect(error).toMatch(/MariaDB|MySQL/)
    expect(error).toMatch(/destination\.entity: pizza\b/)

    const validate = await ws.run(['validate', '--live'])
    expect(validate.code, validate.all).toBe(2)
    expect(validate.all).toMatch(/syncs\[0\]\.destination\.entity/)
    expectClear(validate.all)

    // With the name it suggests, the sync runs.
    ws.write('syncline.yaml', plan(`  - id: pizza
    source: { connection: shop, entity: "pizza🍕" }
    destination: { connection: db, entity: pizza, create: true }
`))
    expect((await ws.run(['run'])).code).toBe(0)
    expect(await mysqlQuery(database.url, 'SELECT id, name FROM pizza')).toEqual([{ id: 1, name: 'margherita' }])
  })

  it('a source entity named with an emoji: exit 2, not a collation error', async () => {
    ws = workspace()
    ws.sqlite('shop.db', '')
    ws.write('syncline.yaml', plan(`  - id: back
    source: { connection: db, entity: "pizza🍕" }
    destination: { connection: shop, entity: pizza, create: true }
`))
    const run = await ws.run(['run', '--json'])
    expect(run.code, run.all).toBe(2)
    const error = String(jsonLines(run.stdout)[0]!.error)
    expectClear(error)
    expect(error).toContain("'pizza🍕'")
    const validate = await ws.run(['validate', '--live'])
    expect(validate.code, validate.all).toBe(2)
    expect(validate.all).toMatch(/syncs\[0\]\.source\.entity/)
    expectClear(validate.all)
  })

  it('a column named with an emoji: exit 2 naming the field and how to map it to another name', async () => {
    ws = workspace()
    ws.sqlite('shop.db', `CREATE TABLE toppings (id INTEGER PRIMARY KEY, "top🍕" TEXT); INSERT INTO toppings VALUES (1, 'basil');`)
    ws.write('syncline.yaml', plan(`  - id: toppings
    source: { connection: shop, entity: toppings }
    destination: { connection: db, entity: toppings, create: true }
`))
    const run = await ws.run(['run', '--json'])
    expect(run.code, run.all).toBe(2)
    const error = String(jsonLines(run.stdout)[0]!.error)
    expectClear(error)
    expect(error).toContain("'top🍕'")
    expect(error).not.toMatch(/rejected a record/)
    expect(error).toMatch(/mapping/)
  })
})
