/**
 * Names are data too: a table called `My "odd" Table` with a field
 * `First Name` goes from SQLite into PostgreSQL with `create: true` and back
 * through every command, and a filter value that looks like SQL is only
 * ever compared, never run.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { postgresDatasource, type TestDatasource } from '../engine/datasources.js'
import { hasPostgres } from '../helpers/services.js'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines, STACK_FRAME } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

const pgAvailable = await hasPostgres()

describe.skipIf(!pgAvailable)('odd identifiers and SQL-looking values, SQLite → PostgreSQL', () => {
  let pg: TestDatasource
  let ws: Workspace
  beforeAll(async () => {
    await ensureBuilt()
    pg = await postgresDatasource()
  }, BUILD_TIMEOUT_MS)
  afterAll(() => pg?.cleanup())
  afterEach(() => ws?.remove())

  const fixture = (syncs: string) => {
    ws?.remove()
    ws = workspace()
    ws.sqlite('src.db', `CREATE TABLE "My ""odd"" Table" ("Id" INTEGER PRIMARY KEY, "First Name" TEXT NOT NULL, "it's" TEXT, "MixedCase" INTEGER);
      INSERT INTO "My ""odd"" Table" VALUES (1, 'Ann', 'a', 10), (2, 'O''Brien', 'b', 20), (3, 'Zoë "Z"', NULL, 30);`)
    ws.write('syncline.yaml', `connections:
  src:
    url: sqlite:./src.db
  dst:
    url: ${pg.url}
syncs:
${syncs}`)
  }

  it('syncs, discovers and auto-maps a quoted, spaced, mixed-case table', async () => {
    fixture(`  - id: odd
    source: { connection: src, entity: 'My "odd" Table' }
    destination: { connection: dst, entity: 'Odd "Target" Table', create: true }
`)
    expect((await ws.run(['validate', '--live'])).code).toBe(0)
    const discovered = await ws.run(['discover', 'src'])
    expect(discovered.stdout).toMatch(/^My "odd" Table\s+4 fields, key \(Id\)$/m)

    const run = await ws.run(['run', '--json'])
    expect(run.code, run.all).toBe(0)
    expect(jsonLines(run.stdout)[0]).toMatchObject({ status: 'succeeded', created: 3 })
    const rows = await pg.query(`SELECT "Id"::int AS "Id", "First Name", "it's", "MixedCase"::int AS "MixedCase" FROM "Odd ""Target"" Table" ORDER BY 1`)
    expect(rows).toEqual([
      { Id: 1, 'First Name': 'Ann', "it's": 'a', MixedCase: 10 },
      { Id: 2, 'First Name': "O'Brien", "it's": 'b', MixedCase: 20 },
      { Id: 3, 'First Name': 'Zoë "Z"', "it's": null, MixedCase: 30 },
    ])

    const again = jsonLines((await ws.run(['run', '--json'])).stdout)[0]
    expect(again).toMatchObject({ created: 0, updated: 0, unchanged: 3 })

    const one = await ws.run(['discover', 'dst', 'Odd "Target" Table'])
    expect(one.code).toBe(0)
    expect(one.stdout).toMatch(/^\s+First Name\s+text/m)
    const automap = jsonLines((await ws.run(['automap', 'src', 'My "odd" Table', 'dst', 'Odd "Target" Table', '--json'])).stdout)[0]
    expect(automap).toEqual({ fields: ['Id', 'First Name', "it's", 'MixedCase'].map((f) => ({ source: f, destination: f })) })
  })

  it('treats a filter value that is SQL as data: nothing matched, nothing dropped', async () => {
    await pg.exec(`CREATE TABLE x (id integer PRIMARY KEY)`)
    fixture(`  - id: inject
    source: { connection: src, entity: 'My "odd" Table' }
    destination: { connection: dst, entity: inject_target, create: true }
    filters:
      - { field: First Name, op: "=", value: "'; DROP TABLE x; --" }
      - { field: it's, op: in, value: ["a'); DROP TABLE x; --", "b"] }
`)
    const run = await ws.run(['run', '--json'])
    expect(run.code, run.all).toBe(0)
    expect(run.all).not.toMatch(STACK_FRAME)
    expect(jsonLines(run.stdout)[0]).toMatchObject({ status: 'succeeded', read: 0, created: 0 })
    expect(await pg.query(`SELECT count(*)::int AS n FROM x`)).toEqual([{ n: 0 }])
    expect(await pg.query(`SELECT count(*)::int AS n FROM inject_target`)).toEqual([{ n: 0 }])
    // The SQLite source is intact too.
    expect(ws.sqliteRows('src.db', `SELECT count(*) AS n FROM "My ""odd"" Table"`)).toEqual([{ n: 3 }])

    // A LIKE pattern with a quote matches exactly the row that has one.
    fixture(`  - id: quoted
    source: { connection: src, entity: 'My "odd" Table' }
    destination: { connection: dst, entity: quoted_target, create: true }
    filters:
      - { field: First Name, op: like, value: "O'%" }
`)
    const quoted = await ws.run(['run', '--json'])
    expect(jsonLines(quoted.stdout)[0]).toMatchObject({ status: 'succeeded', created: 1 })
    expect(await pg.query(`SELECT "First Name" FROM quoted_target`)).toEqual([{ 'First Name': "O'Brien" }])
  })
})
