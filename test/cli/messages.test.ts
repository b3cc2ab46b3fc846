/**
 * Messages a new user reads when something is off (issue 6 #10): each names
 * the things involved and says the fix once.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

let ws: Workspace
afterEach(() => ws?.remove())

const TWO_FILES = (syncs: string) => `connections:
  shop: { url: sqlite:./shop.db }
  backup: { url: sqlite:./backup.db }
syncs:
${syncs}`

describe('plan problems found against the datasources', () => {
  it('a key type mismatch names both sides as connection.entity', async () => {
    ws = workspace()
    ws.sqlite('shop.db', "CREATE TABLE t (id TEXT PRIMARY KEY, name TEXT); INSERT INTO t VALUES ('1', 'x');")
    ws.sqlite('backup.db', 'CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT);')
    ws.write('syncline.yaml', TWO_FILES(`  - id: t
    source: { connection: shop, entity: t }
    destination: { connection: backup, entity: t }
`))
    for (const args of [['run'], ['validate', '--live']]) {
      const result = await ws.run(args)
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.all).toContain("key field 'id' is text in the source shop.t but destination field 'id' is integer in the destination backup.t")
    }
  })

  it('a missing destination table says create: true once', async () => {
    ws = workspace()
    ws.sqlite('shop.db', "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO t VALUES (1, 'x');")
    ws.sqlite('backup.db', '')
    ws.write('syncline.yaml', TWO_FILES(`  - id: t
    source: { connection: shop, entity: t }
    destination: { connection: backup, entity: copy }
`))
    for (const args of [['run'], ['validate', '--live']]) {
      const result = await ws.run(args)
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.all).toContain('syncs[0].destination.entity')
      expect(result.all.match(/create: true/g), result.all).toHaveLength(1)
    }
  })
})

describe('syncline discover with an entity that cannot be read', () => {
  it('lists the others, reports the bad CSV file with the reason, exits 1 (human and --json)', async () => {
    ws = workspace()
    mkdirSync(ws.path('data'))
    writeFileSync(ws.path('data/customers.csv'), 'id,name\n1,Ann\n')
    writeFileSync(ws.path('data/broken.csv'), 'id,id\n1,2\n')
    writeFileSync(ws.path('data/orders.csv'), 'id,total\n1,9.5\n')
    ws.write('syncline.yaml', 'connections:\n  files: { url: csv:./data }\n')

    const human = await ws.run(['discover', 'files'])
    expect(human.code).toBe(1)
    expect(human.stdout).toMatch(/^customers {2}2 fields/m)
    expect(human.stdout).toMatch(/^orders {2}2 fields/m)
    expect(human.stdout).toMatch(/^broken {2}cannot be read: .*broken\.csv line 1: the header names the column 'id' twice/m)
    expect(human.stderr).toContain('1 of 3 entities of files cannot be read')

    const json = await ws.run(['discover', 'files', '--json'])
    expect(json.code).toBe(1)
    const lines = jsonLines(json.stdout)
    expect(lines.map((l) => l.name)).toEqual(['broken', 'customers', 'orders'])
    expect(lines[0]).toEqual({ name: 'broken', error: expect.objectContaining({ message: expect.stringContaining("names the column 'id' twice"), code: expect.any(String) }) })
    expect(lines[1]).toMatchObject({ name: 'customers', fields: [{ name: 'id' }, { name: 'name' }] })

    // Once fixed, the listing is whole again and exits 0.
    writeFileSync(ws.path('data/broken.csv'), 'id,other\n1,2\n')
    const fixed = await ws.run(['discover', 'files'])
    expect(fixed.code).toBe(0)
    expect(fixed.stdout).toMatch(/^broken {2}2 fields/m)
  })

  it('lists the tables of a SQLite file beside a view over a dropped table', async () => {
    ws = workspace()
    ws.sqlite('shop.db', 'CREATE TABLE x (id INTEGER PRIMARY KEY); CREATE TABLE y (id INTEGER PRIMARY KEY); CREATE VIEW vx AS SELECT * FROM x; DROP TABLE x;')
    ws.write('syncline.yaml', 'connections:\n  shop: { url: sqlite:./shop.db }\n')
    const result = await ws.run(['discover', 'shop'])
    expect(result.code).toBe(1)
    expect(result.stdout).toMatch(/^y {2}1 fields, key \(id\)$/m)
    expect(result.stdout).toMatch(/^vx {2}cannot be read: .*no such table: main\.x\. Fix or drop the view\.$/m)
    expect(result.stderr).not.toContain('--debug')
  })
})
