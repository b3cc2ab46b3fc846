/**
 * Rejected records are kept small (issue 6 #6): a 20 MB value the
 * destination rejects leaves its key, the field, the reason and an excerpt
 * with the full size in the state store, and `syncline history` prints
 * bounded lines and a bounded number of them.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { postgresDatasource, type TestDatasource } from '../engine/datasources.js'
import { hasPostgres } from '../helpers/services.js'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines, STACK_FRAME } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

const pgAvailable = await hasPostgres()

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

let ws: Workspace
afterEach(() => ws?.remove())

const MB20 = 20 * 1024 * 1024

describe.skipIf(!pgAvailable)('a 20 MB value rejected by PostgreSQL', () => {
  let pg: TestDatasource
  beforeAll(async () => {
    pg = await postgresDatasource()
  })
  afterAll(() => pg?.cleanup())

  it('is stored as key, field, reason and an excerpt with its size; history stays bounded', async () => {
    ws = workspace()
    await pg.exec('CREATE TABLE notes (id integer PRIMARY KEY, body varchar(10), extra text)')
    // 25 bodies one character too long, then one of 20 MB (the newest error), and one that fits.
    const tooLong = Array.from({ length: 25 }, (_, i) => `(${i + 1}, 'abcdefghijk', 'x')`).join(', ')
    ws.sqlite('shop.db', `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, extra TEXT);
      INSERT INTO notes VALUES ${tooLong}, (99, printf('%.*c', ${MB20}, 'y'), '${'z'.repeat(500)}'), (100, 'fits', 'x');`)
    ws.write('syncline.yaml', `connections:
  shop: { url: sqlite:./shop.db }
  warehouse: { url: ${pg.url} }
syncs:
  - id: notes
    source: { connection: shop, entity: notes }
    destination: { connection: warehouse, entity: notes }
    maxErrors: 100
`)
    const run = await ws.run(['run', '--json'], { timeoutMs: 120_000 })
    expect(run.code).toBe(1)
    expect(jsonLines(run.stdout)).toEqual([expect.objectContaining({ id: 'notes', status: 'partial', created: 1, failed: 26 })])
    expect(run.all.length).toBeLessThan(20_000)

    const [stored] = ws.sqliteRows<{ record: string; reason: string; size: number }>(
      '.syncline/state.db',
      "SELECT record, reason, length(record) + length(reason) + length(record_id) AS size FROM record_errors WHERE record_id = '99'",
    )
    expect(stored!.size).toBeLessThan(4 * 1024)
    const record = JSON.parse(stored!.record) as Record<string, unknown>
    // Key first, then the rejected field, each long value as its start and its full size.
    expect(Object.keys(record)).toEqual(['id', 'body', 'extra'])
    expect(record).toEqual({
      id: 99,
      body: { excerpt: 'y'.repeat(200), bytes: MB20 },
      extra: { excerpt: 'z'.repeat(200), bytes: 500 },
    })
    expect(stored!.reason).toContain('body')
    const [{ total }] = ws.sqliteRows<{ total: number }>('.syncline/state.db', 'SELECT sum(length(record) + length(reason)) AS total FROM record_errors') as [{ total: number }]
    expect(total).toBeLessThan(64 * 1024)

    const history = await ws.run(['history', 'notes'])
    expect(history.code).toBe(0)
    expect(history.all).not.toMatch(STACK_FRAME)
    expect(history.stdout.length).toBeLessThan(20_000)
    for (const line of history.stdout.split('\n')) expect(line.length).toBeLessThan(500)
    expect(history.stdout).toContain('(20.0 MB)')
    expect(history.stdout).toContain('… and 6 more')
    expect(history.stdout.match(/^ {2}\S+ {2}create /gm)).toHaveLength(20)

    const json = await ws.run(['history', 'notes', '--json'])
    const lines = jsonLines(json.stdout)
    expect(lines.filter((l) => l.kind === 'recordError')).toHaveLength(20)
    expect(lines.at(-1)).toEqual({ kind: 'recordErrorsNotShown', count: 6 })
    expect(json.stdout.length).toBeLessThan(40_000)
  }, 180_000)
})
