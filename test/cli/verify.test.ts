/**
 * `syncline verify` as a script or a person uses it after a sync: exit 0
 * when source and destination are in step, 1 naming the keys that differ
 * (missing, extra, changed, down to a trailing space or a microsecond), 2
 * when a sync cannot be compared; filters and `deletes: ignore` count as a
 * run would; and nothing is ever written (destination, watermark, history).
 */
import { existsSync } from 'node:fs'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { mysqlDatasource, postgresDatasource, type TestDatasource } from '../engine/datasources.js'
import { hasMysql, hasPostgres } from '../helpers/services.js'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

const pgAvailable = await hasPostgres()
const mysqlAvailable = pgAvailable && (await hasMysql())

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

let ws: Workspace | undefined
const datasources: TestDatasource[] = []
afterEach(async () => {
  ws?.remove()
  ws = undefined
  await Promise.all(datasources.splice(0).map((d) => d.cleanup()))
})

/** The keys of a `verify --json` line (docs/plan-and-cli.md). */
const VERIFY_KEYS = ['id', 'direction', 'inStep', 'compared', 'missing', 'extra', 'changed', 'failed', 'kept', 'samples', 'durationMs']

function plan(pgUrl: string): string {
  return `connections:
  shop:
    url: sqlite:./shop.db
  warehouse:
    url: ${pgUrl}
syncs:
  - id: customers
    source: { connection: shop, entity: customers }
    destination: { connection: warehouse, entity: customers, create: true }
    batchSize: 3
  - id: customers-kept
    source: { connection: shop, entity: customers }
    destination: { connection: warehouse, entity: customers }
    deletes: ignore
    batchSize: 3
  - id: active
    source: { connection: shop, entity: customers }
    destination: { connection: warehouse, entity: active_customers, create: true }
    filters: [{ field: status, op: "=", value: active }]
    batchSize: 3
  - id: events
    source: { connection: shop, entity: events }
    destination: { connection: warehouse, entity: events, create: true }
    mode: incremental
    cursor: updated_at
  - id: people
    source: { connection: shop, entity: people }
    destination: { connection: warehouse, entity: people, create: true }
    softDelete: deleted_at
    mapping:
      fields:
        - { destination: label, transform: "UPPER(name)" }
  - id: both-ways
    source: { connection: shop, entity: customers }
    destination: { connection: warehouse, entity: customers }
    direction: two-way
    mode: incremental
    cursor: updated_at
`
}

/** SQLite `customers` (10 rows, every third inactive) and `events`, a plan into a fresh PostgreSQL database. */
async function shopIntoPostgres(): Promise<{ ws: Workspace; pg: TestDatasource }> {
  const pg = await postgresDatasource()
  datasources.push(pg)
  ws = workspace('syncline-verify-')
  const customers = Array.from({ length: 10 }, (_, i) => `(${i + 1}, 'Customer ${i + 1}', '${i % 3 === 2 ? 'inactive' : 'active'}', '2026-01-01T00:00:00.000000Z')`)
  ws.sqlite('shop.db', `CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, updated_at TEXT NOT NULL);
    INSERT INTO customers VALUES ${customers.join(', ')};
    CREATE TABLE events (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated_at TEXT NOT NULL);
    INSERT INTO events VALUES (1, 'a', '2026-01-01T00:00:01.000000Z'), (2, 'b', '2026-01-01T00:00:02.000000Z');
    CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, deleted_at TEXT);
    INSERT INTO people VALUES (1, 'Ann', NULL), (2, 'Bob', NULL), (3, 'Cy', NULL);`)
  ws.write('syncline.yaml', plan(pg.url))
  return { ws, pg }
}

async function destinationRows(pg: TestDatasource, table: string): Promise<unknown[]> {
  return pg.query(`SELECT * FROM ${table} ORDER BY id`)
}

describe.skipIf(!pgAvailable)('syncline verify, SQLite → PostgreSQL', () => {
  it('exits 0 with one JSON line per sync when every table is in step', async () => {
    const { ws } = await shopIntoPostgres()
    expect((await ws.run(['run', 'customers', 'active', '--json'])).code).toBe(0)
    const result = await ws.run(['verify', 'customers', 'active', '--json'])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    const lines = jsonLines(result.stdout)
    expect(lines.map((l) => Object.keys(l).sort())).toEqual([VERIFY_KEYS.slice().sort(), VERIFY_KEYS.slice().sort()])
    expect(lines[0]).toMatchObject({ id: 'customers', inStep: true, compared: 10, missing: 0, extra: 0, changed: 0, failed: 0, samples: { missing: [], extra: [], changed: [] } })
    // The filtered sync compares only the rows its filter lets through.
    expect(lines[1]).toMatchObject({ id: 'active', inStep: true, compared: 7 })
    const human = await ws.run(['verify', 'customers'])
    expect(human.stdout).toMatch(/^customers: in step — 10 compared/)
  })

  it('exits 1 naming the missing, extra and changed keys (a trailing space counts), and writes nothing', async () => {
    const { ws, pg } = await shopIntoPostgres()
    expect((await ws.run(['run', 'customers'])).code).toBe(0)
    await pg.exec(`UPDATE customers SET name = 'Customer 2 ' WHERE id = 2`)
    await pg.exec(`DELETE FROM customers WHERE id = 5`)
    await pg.exec(`INSERT INTO customers SELECT 100 + n, 'Stray', 'active', 'x' FROM generate_series(0, 12) AS n`)
    const before = await destinationRows(pg, 'customers')
    const historyBefore = jsonLines((await ws.run(['history', '--json'])).stdout)

    const json = await ws.run(['verify', 'customers', '--json'])
    expect(json.code).toBe(1)
    const [line] = jsonLines(json.stdout)
    expect(line).toMatchObject({ id: 'customers', inStep: false, compared: 23, missing: 1, extra: 13, changed: 1, samples: { missing: ['5'], changed: ['2'] } })
    expect((line!.samples as { extra: string[] }).extra).toEqual(['100', '101', '102', '103', '104', '105', '106', '107', '108', '109'])

    const human = await ws.run(['verify', 'customers'])
    expect(human.code).toBe(1)
    expect(human.stdout).toContain('customers: NOT in step')
    expect(human.stdout).toMatch(/missing \(in the source, not the destination\): 5\n/)
    expect(human.stdout).toContain('changed: 2 (name)')
    expect(human.stdout).toContain('109 … and 3 more')

    // Nothing written: the destination as it was, no run in the history.
    expect(await destinationRows(pg, 'customers')).toEqual(before)
    expect(jsonLines((await ws.run(['history', '--json'])).stdout)).toEqual(historyBefore)
    // And a run fixes exactly what verify listed.
    expect(jsonLines((await ws.run(['run', 'customers', '--json'])).stdout)[0]).toMatchObject({ created: 1, updated: 1, deleted: 13 })
    expect((await ws.run(['verify', 'customers'])).code).toBe(0)
  })

  it('with deletes: ignore, extra destination rows are kept, not a difference', async () => {
    const { ws, pg } = await shopIntoPostgres()
    expect((await ws.run(['run', 'customers'])).code).toBe(0)
    await pg.exec(`INSERT INTO customers VALUES (50, 'Kept', 'active', 'x')`)
    const result = await ws.run(['verify', 'customers-kept', '--json'])
    expect(result.code).toBe(0)
    expect(jsonLines(result.stdout)[0]).toMatchObject({ inStep: true, extra: 0, kept: 1, compared: 11 })
    expect((await ws.run(['verify', 'customers'])).code).toBe(1)
  })

  it('a filtered sync: changes to rows the filter leaves out are no difference, others are', async () => {
    const { ws } = await shopIntoPostgres()
    expect((await ws.run(['run', 'active'])).code).toBe(0)
    ws.sqlite('shop.db', `UPDATE customers SET name = 'Changed' WHERE id = 3`) // inactive
    expect((await ws.run(['verify', 'active'])).code).toBe(0)
    ws.sqlite('shop.db', `UPDATE customers SET name = 'Changed' WHERE id = 4`) // active
    const result = await ws.run(['verify', 'active', '--json'])
    expect(result.code).toBe(1)
    expect(jsonLines(result.stdout)[0]).toMatchObject({ changed: 1, missing: 0, extra: 0, samples: { changed: ['4'] } })
  })

  it('compares transformed fields as a run writes them, and a soft-deleted source row is extra', async () => {
    const { ws, pg } = await shopIntoPostgres()
    expect((await ws.run(['run', 'people'])).code).toBe(0)
    expect((await ws.run(['verify', 'people'])).code).toBe(0)
    await pg.exec(`UPDATE people SET label = 'Bob' WHERE id = 2`)
    const changed = await ws.run(['verify', 'people'])
    expect(changed.code).toBe(1)
    expect(changed.stdout).toContain('changed: 2 (label)')
    expect((await ws.run(['run', 'people'])).code).toBe(0)
    ws.sqlite('shop.db', `UPDATE people SET deleted_at = '2026-02-01T00:00:00Z' WHERE id = 3`)
    const deleted = await ws.run(['verify', 'people', '--json'])
    expect(deleted.code).toBe(1)
    expect(jsonLines(deleted.stdout)[0]).toMatchObject({ extra: 1, changed: 0, missing: 0, samples: { extra: ['3'] } })
    expect(jsonLines((await ws.run(['run', 'people', '--json'])).stdout)[0]).toMatchObject({ deleted: 1 })
    expect((await ws.run(['verify', 'people'])).code).toBe(0)
  })

  it('an incremental sync never run: every row missing; no table created, no state written', async () => {
    const { ws, pg } = await shopIntoPostgres()
    const result = await ws.run(['verify', 'events', '--json'])
    expect(result.code).toBe(1)
    expect(jsonLines(result.stdout)[0]).toMatchObject({ id: 'events', missing: 2, samples: { missing: ['1', '2'] } })
    expect(await pg.query(`SELECT 1 FROM information_schema.tables WHERE table_name = 'events'`)).toEqual([])
    // No state store was even opened: no watermark, no run, no lock.
    expect(existsSync(ws.path('.syncline'))).toBe(false)
  })

  it('exits 2 for a sync it cannot compare (an unknown id), naming it', async () => {
    const { ws } = await shopIntoPostgres()
    const unknown = await ws.run(['verify', 'customer'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("No sync 'customer' in the plan. Did you mean 'customers'?")
  })

  it('a two-way sync: both sides agree on the fields both directions write; a row on one side only differs', async () => {
    const { ws, pg } = await shopIntoPostgres()
    expect((await ws.run(['run', 'customers'])).code).toBe(0)
    // Each side's cursor is its own: a destination-only timestamp is no difference.
    await pg.exec(`UPDATE customers SET updated_at = '2026-06-01T00:00:00Z' WHERE id = 4`)
    const inStep = await ws.run(['verify', 'both-ways', '--json'])
    expect(inStep.code).toBe(0)
    expect(jsonLines(inStep.stdout)[0]).toMatchObject({ id: 'both-ways', direction: 'two-way', inStep: true, compared: 10 })
    await pg.exec(`UPDATE customers SET name = 'Customer 2 (office)' WHERE id = 2; DELETE FROM customers WHERE id = 3;
      INSERT INTO customers VALUES (11, 'Walk-in', 'active', '2026-06-01T00:00:00Z')`)
    const differs = await ws.run(['verify', 'both-ways'])
    expect(differs.code).toBe(1)
    expect(differs.stdout).toContain('both-ways: NOT in step — 11 compared')
    expect(differs.stdout).toContain('1 missing, 1 extra, 1 changed')
    expect(differs.stdout).toContain('missing (in the source, not the destination): 3')
    expect(differs.stdout).toContain('extra (at the destination, not the source): 11')
    expect(differs.stdout).toContain('changed: 2 (name)')
  })
})

describe.skipIf(!mysqlAvailable)('syncline verify, MariaDB → PostgreSQL', () => {
  it('catches one changed microsecond, trailing space or decimal, naming the key and field', async () => {
    const maria = await mysqlDatasource()
    datasources.push(maria)
    const pg = await postgresDatasource()
    datasources.push(pg)
    ws = workspace('syncline-verify-')
    await maria.exec(`CREATE TABLE items (id int PRIMARY KEY, name varchar(20) NOT NULL, seen_at datetime(6) NOT NULL, price decimal(10,2) NOT NULL)`)
    await maria.exec(`INSERT INTO items VALUES (1, 'one', '2026-01-01 00:00:00.000001', 1.50), (2, 'two', '2026-01-02 00:00:00.123456', 2.00), (3, 'three', '2026-01-03 00:00:00', 3.25)`)
    ws.write('syncline.yaml', `connections:
  maria:
    url: ${maria.url}
  warehouse:
    url: ${pg.url}
syncs:
  - id: items
    source: { connection: maria, entity: items }
    destination: { connection: warehouse, entity: items, create: true }
    mode: realtime
`)
    // A realtime sync is compared like any other: run it once as a full copy.
    ws.write('copy.yaml', `connections:
  maria:
    url: ${maria.url}
  warehouse:
    url: ${pg.url}
syncs:
  - id: items
    source: { connection: maria, entity: items }
    destination: { connection: warehouse, entity: items, create: true }
`)
    expect((await ws.run(['run', '--config', 'copy.yaml'])).code).toBe(0)
    expect((await ws.run(['verify'])).code).toBe(0)

    const cases: Array<[string, string, string]> = [
      [`UPDATE items SET seen_at = seen_at + interval '1 microsecond' WHERE id = 2`, '2', 'seen_at'],
      [`UPDATE items SET name = 'one ' WHERE id = 1`, '1', 'name'],
      [`UPDATE items SET price = 3.26 WHERE id = 3`, '3', 'price'],
    ]
    for (const [sql, key, field] of cases) {
      const before = await destinationRows(pg, 'items')
      await pg.exec(sql)
      const result = await ws.run(['verify', '--json'])
      expect(result.code, sql).toBe(1)
      expect(jsonLines(result.stdout)[0], sql).toMatchObject({ inStep: false, changed: 1, missing: 0, extra: 0, samples: { changed: [key] } })
      expect((await ws.run(['verify'])).stdout, sql).toContain(`changed: ${key} (${field})`)
      expect((await ws.run(['run', '--config', 'copy.yaml'])).code).toBe(0)
      expect(await destinationRows(pg, 'items'), sql).toEqual(before)
    }
    // The destination column keeps the source's scale (numeric(10,2)): 1.50 stays 1.50, in step.
    expect(await pg.query(`SELECT price::text AS price FROM items WHERE id = 1`)).toEqual([{ price: '1.50' }])
    expect((await ws.run(['verify'])).code).toBe(0)
  })
})
