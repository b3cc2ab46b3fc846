/**
 * `syncline init` and `syncline validate [--live]` as a user meets them:
 * a starter plan that runs as written, and mistakes reported with where
 * they are and what to do (exit 2).
 */
import { existsSync, readFileSync } from 'node:fs'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

let ws: Workspace
afterEach(() => ws?.remove())

const SHOP_PLAN = (syncs: string) => `connections:
  shop:
    url: sqlite:./shop.db
syncs:
${syncs}`

describe('syncline init', () => {
  it('writes a commented plan and a sample database that validate and run as written', async () => {
    ws = workspace()
    const init = await ws.run(['init'])
    expect(init.code).toBe(0)
    expect(init.stdout).toContain('syncline.yaml')
    const plan = readFileSync(ws.path('syncline.yaml'), 'utf8')
    expect(plan).toMatch(/^# /m) // commented
    expect(plan).toContain('# mode: full')
    expect(existsSync(ws.path('shop.db'))).toBe(true)

    const again = await ws.run(['init'])
    expect(again.code).toBe(2)
    expect(again.stderr).toContain('exists already')
    expect(again.stderr).toContain('--force')
    expect(readFileSync(ws.path('syncline.yaml'), 'utf8')).toBe(plan)

    const validate = await ws.run(['validate'])
    expect(validate.code).toBe(0)
    expect(validate.stdout).toContain('valid')
    expect((await ws.run(['validate', '--live'])).code).toBe(0)

    const run = await ws.run(['run', '--json'])
    expect(run.stderr).not.toMatch(/error/i)
    expect(run.code).toBe(0)
    expect(jsonLines(run.stdout)).toEqual([expect.objectContaining({ id: 'customers', status: 'succeeded', read: 3, created: 3 })])
    const copied = ws.sqliteRows('backup.db', 'SELECT id, name, email FROM customers ORDER BY id')
    expect(copied).toEqual(ws.sqliteRows('shop.db', 'SELECT id, name, email FROM customers ORDER BY id'))
    expect(copied).toHaveLength(3)
  })

  it('replaces the plan with --force, and writes where --config points', async () => {
    ws = workspace()
    ws.write('syncline.yaml', 'connections: {}\n')
    const forced = await ws.run(['init', '--force'])
    expect(forced.code).toBe(0)
    expect(readFileSync(ws.path('syncline.yaml'), 'utf8')).toContain('id: customers')

    const elsewhere = await ws.run(['init', '--config', 'other.yaml', '--json'])
    expect(elsewhere.code).toBe(0)
    expect(jsonLines(elsewhere.stdout)[0]).toMatchObject({ path: ws.path('other.yaml') })
    expect((await ws.run(['validate', '--config', 'other.yaml'])).code).toBe(0)
  })
})

describe('syncline validate', () => {
  it('reports malformed YAML with its line and column', async () => {
    ws = workspace()
    ws.write('syncline.yaml', 'connections:\n  shop:\n    url: sqlite:./shop.db\nsyncs: [ { id: a\n')
    const result = await ws.run(['validate'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/line 4, column \d+/)
    expect(result.stdout).toBe('')
  })

  it('suggests the right name for an unknown setting', async () => {
    ws = workspace()
    ws.write('syncline.yaml', SHOP_PLAN(`  - id: a
    source: { connection: shop, entity: customers }
    destination: { connection: shop, entity: copy, create: true }
    batchsize: 100
`))
    const result = await ws.run(['validate'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('syncs[0].batchsize')
    expect(result.stderr).toContain("Did you mean 'batchSize'?")
  })

  it('suggests the closest connection for an unknown one', async () => {
    ws = workspace()
    ws.write('syncline.yaml', SHOP_PLAN(`  - id: a
    source: { connection: shop, entity: customers }
    destination: { connection: shpo, entity: copy, create: true }
`))
    const result = await ws.run(['validate'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('syncs[0].destination.connection')
    expect(result.stderr).toContain("Did you mean 'shop'?")
  })

  it('names a ${VAR} that is not set, and accepts the plan once it is', async () => {
    ws = workspace()
    ws.write('syncline.yaml', `connections:
  warehouse:
    url: postgres://sync@127.0.0.1:5432/warehouse
    password: \${SYNCLINE_TEST_WAREHOUSE_PASSWORD}
`)
    const missing = await ws.run(['validate'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('SYNCLINE_TEST_WAREHOUSE_PASSWORD')
    expect(missing.stderr).toContain('connections.warehouse.password')

    const set = await ws.run(['validate'], { env: { SYNCLINE_TEST_WAREHOUSE_PASSWORD: 'hunter2' } })
    expect(set.code).toBe(0)
    expect(set.all).not.toContain('hunter2')
  })

  it('names the missing plan file and suggests syncline init (also with --json)', async () => {
    ws = workspace()
    const result = await ws.run(['validate'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(ws.path('syncline.yaml'))
    expect(result.stderr).toContain('syncline init')

    const other = await ws.run(['validate', '--config', 'plans/missing.yaml', '--json'])
    expect(other.code).toBe(2)
    expect(jsonLines(other.stdout)).toEqual([{ error: expect.objectContaining({ code: 'PLAN_NOT_FOUND', message: expect.stringContaining(ws.path('plans/missing.yaml')) }) }])
  })

  it('parses transforms without --live, pointing at the character (issue 6 #12)', async () => {
    ws = workspace()
    ws.write('syncline.yaml', SHOP_PLAN(`  - id: a
    source: { connection: shop, entity: customers }
    destination: { connection: shop, entity: copy, create: true }
    mapping:
      fields:
        - { source: name, destination: name }
        - { source: name, destination: label, transform: "((" }
`))
    const result = await ws.run(['validate'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('syncs[0].mapping.fields[1].transform: ')
    expect(result.stderr).toMatch(/\n {4}\(\(\n {6}\^/)
    const json = await ws.run(['validate', '--json'])
    expect(json.code).toBe(2)
    const [line] = jsonLines(json.stdout) as Array<{ error: { issues: Array<{ path: string }> } }>
    expect(line!.error.issues.map((i) => i.path)).toEqual(['syncs[0].mapping.fields[1].transform'])
  })

  it('reads the plan named by $SYNCLINE_CONFIG', async () => {
    ws = workspace()
    ws.write('custom.yaml', 'connections: {}\n')
    const result = await ws.run(['validate'], { env: { SYNCLINE_CONFIG: 'custom.yaml' } })
    expect(result.code).toBe(0)
  })
})

describe('syncline validate --live', () => {
  const fixture = () => {
    ws = workspace()
    ws.sqlite('shop.db', `CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, email TEXT);
      CREATE TABLE people (email TEXT, name TEXT);
      INSERT INTO people VALUES ('a@example.org', 'Ann'), ('b@example.org', 'Bob'), ('a@example.org', 'Anna');`)
  }

  it('accepts a plan whose entities and fields exist', async () => {
    fixture()
    ws.write('syncline.yaml', SHOP_PLAN(`  - id: a
    source: { connection: shop, entity: customers }
    destination: { connection: shop, entity: copy, create: true }
    mapping: { fields: [ { source: email, destination: mail } ] }
`))
    const result = await ws.run(['validate', '--live'])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('checked')
  })

  it('names the closest table when an entity does not exist', async () => {
    fixture()
    ws.write('syncline.yaml', SHOP_PLAN(`  - id: a
    source: { connection: shop, entity: custmers }
    destination: { connection: shop, entity: copy, create: true }
`))
    const result = await ws.run(['validate', '--live'])
    expect(result.code).toBe(2)
    expect(result.stdout).toContain('syncs[0].source.entity')
    expect(result.stdout).toContain("'custmers'")
    expect(result.stdout).toContain("Did you mean 'customers'?")
    // Without --live the datasource is not asked.
    expect((await ws.run(['validate'])).code).toBe(0)
  })

  it('suggests the field meant by an unknown mapped field', async () => {
    fixture()
    ws.write('syncline.yaml', SHOP_PLAN(`  - id: a
    source: { connection: shop, entity: customers }
    destination: { connection: shop, entity: copy, create: true }
    mapping: { fields: [ { source: emial, destination: mail } ] }
`))
    const result = await ws.run(['validate', '--live', '--json'])
    expect(result.code).toBe(2)
    const [report] = jsonLines(result.stdout)
    expect(report).toMatchObject({ ok: false })
    expect(report!.issues).toEqual([{ path: 'syncs[0].mapping.fields[0].source', message: expect.stringContaining("Did you mean 'email'?") }])
  })

  it('says a key is not unique on a source without a primary key', async () => {
    fixture()
    ws.write('syncline.yaml', SHOP_PLAN(`  - id: people
    source: { connection: shop, entity: people }
    destination: { connection: shop, entity: people_copy, create: true }
    keys: [email]
`))
    const result = await ws.run(['validate', '--live'])
    expect(result.code).toBe(2)
    expect(result.stdout).toContain('syncs[0].keys')
    expect(result.stdout).toMatch(/key \(email\) is not unique/)
  })
})
