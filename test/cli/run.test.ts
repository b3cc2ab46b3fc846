/**
 * `syncline run`, `status` and `history` as scripts and people use them:
 * one JSON line per sync, dry runs that write nothing but show the changes,
 * `--full`, exit 1 with the reason when a sync fails, and state that shows
 * the run, the watermark and the rejected record (never a password).
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

/** The keys of a `run --json` line (README); `error` only when something went wrong. */
const RESULT_KEYS = ['id', 'status', 'mode', 'read', 'created', 'updated', 'deleted', 'unchanged', 'failed', 'conflicts', 'durationMs']
/** Keys a line may carry besides: the error's code, and the dry-run flag. */
const OPTIONAL_KEYS = ['error', 'errorCode', 'dryRun']

function expectResultLine(line: Record<string, unknown>): void {
  for (const key of RESULT_KEYS) expect(line, key).toHaveProperty(key)
  for (const key of Object.keys(line)) expect([...RESULT_KEYS, ...OPTIONAL_KEYS], `unexpected key ${key}`).toContain(key)
  for (const key of RESULT_KEYS.slice(3)) expect(typeof line[key], key).toBe('number')
}

const PLAN = `connections:
  shop:
    url: sqlite:./shop.db
  backup:
    url: sqlite:./backup.db
syncs:
  - id: customers
    source: { connection: shop, entity: customers }
    destination: { connection: backup, entity: customers, create: true }
    batchSize: 4
  - id: events
    source: { connection: shop, entity: events }
    destination: { connection: backup, entity: events, create: true }
    mode: incremental
    cursor: updated_at
    lookback: 0s
    batchSize: 4
`

function shopFixture(): void {
  ws = workspace()
  const customers = Array.from({ length: 10 }, (_, i) => `(${i + 1}, 'Customer ${i + 1}', 'c${i + 1}@example.org')`).join(', ')
  const events = Array.from({ length: 12 }, (_, i) => `(${i + 1}, 'event ${i + 1}', '2026-01-01T00:00:${String(i).padStart(2, '0')}.000000Z')`).join(', ')
  ws.sqlite('shop.db', `CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
    INSERT INTO customers VALUES ${customers};
    CREATE TABLE events (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated_at TEXT NOT NULL);
    INSERT INTO events VALUES ${events};`)
  ws.sqlite('backup.db', '')
  ws.write('syncline.yaml', PLAN)
}

describe('syncline run on SQLite', () => {
  it('--json prints exactly one result line per sync on stdout, progress on stderr', async () => {
    shopFixture()
    const result = await ws.run(['run', '--json'])
    expect(result.code).toBe(0)
    const lines = jsonLines(result.stdout)
    expect(lines).toHaveLength(2)
    lines.forEach(expectResultLine)
    expect(lines[0]).toMatchObject({ id: 'customers', status: 'succeeded', mode: 'full', read: 10, created: 10, updated: 0, deleted: 0, unchanged: 0, failed: 0, conflicts: 0 })
    expect(lines[1]).toMatchObject({ id: 'events', status: 'succeeded', mode: 'incremental', read: 12, created: 12 })
    expect(lines[0]).not.toHaveProperty('error')
    // Progress goes to stderr, as JSON lines too.
    expect(jsonLines(result.stderr).some((l) => (l.progress as { syncId?: string } | undefined)?.syncId === 'customers')).toBe(true)

    const one = await ws.run(['run', 'customers', '--json'])
    expect(jsonLines(one.stdout)).toEqual([expect.objectContaining({ id: 'customers', unchanged: 10, created: 0 })])
  })

  it('--dry-run prints the would-be creates, updates and deletes and writes nothing', async () => {
    shopFixture()
    // Before the first run: the table to create is not created either.
    const first = await ws.run(['run', '--dry-run'])
    expect(first.code).toBe(0)
    expect(first.stdout).toMatch(/^customers: succeeded \(dry run: nothing written\).*would be: 10 created/m)
    expect(first.stdout).toMatch(/would create 12:\n(\s+\{"id":\d+,.*\n){12}/)
    expect(ws.sqliteRows('backup.db', `SELECT name FROM sqlite_master WHERE type = 'table'`)).toEqual([])
    expect((await ws.run(['status'])).stdout).not.toContain('watermark')

    expect((await ws.run(['run', '-q'])).code).toBe(0)
    ws.sqlite('shop.db', `UPDATE customers SET email = 'changed@example.org' WHERE id = 3;
      DELETE FROM customers WHERE id = 7;
      INSERT INTO customers VALUES (11, 'Zoë Newcomer', NULL);`)
    const before = ws.sqliteRows('backup.db', 'SELECT * FROM customers ORDER BY id')

    const dry = await ws.run(['run', 'customers', '--dry-run'])
    expect(dry.code).toBe(0)
    expect(dry.stdout).toContain('dry run: nothing written')
    expect(dry.stdout).toMatch(/would be: 1 created, 1 updated, 1 deleted, 8 unchanged/)
    expect(dry.stdout).toMatch(/would create 1:\n\s+\{"id":11,"name":"Zoë Newcomer","email":null\}/)
    expect(dry.stdout).toMatch(/would update 1:\n\s+\{"id":3,"name":"Customer 3","email":"changed@example.org"\}/)
    expect(dry.stdout).toMatch(/would delete 1:\n\s+\[7\]/)
    expect(ws.sqliteRows('backup.db', 'SELECT * FROM customers ORDER BY id')).toEqual(before)

    const dryJson = await ws.run(['run', 'customers', '--dry-run', '--json'])
    const [line] = jsonLines(dryJson.stdout)
    expectResultLine(line!)
    expect(line).toMatchObject({ dryRun: true, created: 1, updated: 1, deleted: 1 })
    expect(ws.sqliteRows('backup.db', 'SELECT * FROM customers ORDER BY id')).toEqual(before)
    // A dry run leaves the state alone too: the real run finds the same work.
    const real = jsonLines((await ws.run(['run', 'customers', '--json'])).stdout)[0]
    expect(real).toMatchObject({ created: 1, updated: 1, deleted: 1, unchanged: 8 })
    expect(ws.sqliteRows('backup.db', 'SELECT id FROM customers ORDER BY id').map((r) => (r as { id: bigint | number }).id).map(Number)).toEqual([1, 2, 3, 4, 5, 6, 8, 9, 10, 11])
  })

  it('reads only changes incrementally, and everything again with --full', async () => {
    shopFixture()
    expect((await ws.run(['run', 'events', '-q'])).code).toBe(0)
    ws.sqlite('shop.db', `INSERT INTO events VALUES (13, 'event 13', '2026-01-01T00:01:00.000000Z')`)
    const incremental = jsonLines((await ws.run(['run', 'events', '--json'])).stdout)[0]
    expect(incremental).toMatchObject({ mode: 'incremental', read: 1, created: 1 })

    const full = await ws.run(['run', 'events', '--full', '--json'])
    expect(full.code).toBe(0)
    expect(jsonLines(full.stdout)[0]).toMatchObject({ status: 'succeeded', mode: 'incremental (full)', read: 13, created: 0, unchanged: 13 })

    const status = await ws.run(['status'])
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/^events: succeeded at /m)
    expect(status.stdout).toContain('watermark: {"cursor":"2026-01-01T00:01:00.000000Z","key":[13]}')
    expect(status.stdout).toMatch(/^customers: never run$/m)
  })

  it('runs only the named syncs and rejects an unknown one with a suggestion (exit 2)', async () => {
    shopFixture()
    const unknown = await ws.run(['run', 'event'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("Did you mean 'events'?")
    expect(unknown.stderr).not.toMatch(STACK_FRAME)
    expect(ws.sqliteRows('backup.db', `SELECT name FROM sqlite_master WHERE type = 'table'`)).toEqual([])
  })
})

describe('syncline history and an empty plan', () => {
  it('keeps showing the history of a sync removed from the plan; a bad --limit is a usage error', async () => {
    shopFixture()
    expect((await ws.run(['run', '-q'])).code).toBe(0)
    ws.write('syncline.yaml', PLAN.replace(/ {2}- id: events[\s\S]*$/, ''))
    const history = await ws.run(['history', 'events'])
    expect(history.code).toBe(0)
    expect(history.stdout).toMatch(/ events {2}succeeded {2}incremental {2}read 12, created 12/)
    expect((await ws.run(['status'])).stdout).toMatch(/^events \(not in the plan\): succeeded/m)
    expect((await ws.run(['history', 'nothing'])).code).toBe(2)

    const all = await ws.run(['history', '-n', '1', '--json'])
    expect(jsonLines(all.stdout)).toHaveLength(1)
    const bad = await ws.run(['history', '--limit', 'lots'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--limit')
  })

  it('says so when there is nothing to run', async () => {
    ws = workspace()
    ws.write('syncline.yaml', 'connections: {}\n')
    const result = await ws.run(['run'])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('No syncs to run')
    expect((await ws.run(['run', '--json'])).stdout).toBe('')
  })
})

describe.skipIf(!pgAvailable)('syncline run into PostgreSQL: a rejected record', () => {
  let pg: TestDatasource
  beforeAll(async () => {
    pg = await postgresDatasource()
  })
  afterAll(() => pg?.cleanup())

  it('fails with exit 1 and the reason; status and history show the run, the watermark and the record', async () => {
    ws = workspace()
    await pg.exec(`CREATE TABLE people (id integer PRIMARY KEY, name varchar(5), updated_at text)`)
    const names = ['Ann', 'Bob', 'Cy', 'Dee', 'Christopher', 'Eve']
    ws.sqlite('shop.db', `CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated_at TEXT NOT NULL);
      INSERT INTO people VALUES ${names.map((n, i) => `(${i + 1}, '${n}', '2026-01-0${i + 1}T00:00:00.000000Z')`).join(', ')};`)
    // The same server with the password in the URL and given apart: trust auth ignores both.
    const url = new URL(pg.url)
    url.password = 'url-secret-5d1e'
    ws.write('syncline.yaml', `connections:
  shop:
    url: sqlite:./shop.db
  warehouse:
    url: ${url.toString()}
  warehouse2:
    url: ${pg.url}
    password: \${PGPASS}
syncs:
  - id: people
    source: { connection: shop, entity: people }
    destination: { connection: warehouse, entity: people }
    mode: incremental
    cursor: updated_at
    lookback: 0s
    batchSize: 2
    maxErrors: 0
  - id: people-copy
    source: { connection: shop, entity: people }
    destination: { connection: warehouse2, entity: people_copy, create: true }
`)
    const env = { PGPASS: 'env-secret-0b7c' }
    const secretFree = (text: string) => {
      expect(text).not.toContain('url-secret-5d1e')
      expect(text).not.toContain('env-secret-0b7c')
    }

    const human = await ws.run(['run', 'people'], { env })
    expect(human.code).toBe(1)
    expect(human.stdout).toMatch(/^people: failed/m)
    expect(human.stdout).toContain("'Christopher'")
    expect(human.stdout).toMatch(/value of 11 characters is longer than .+ allows \(5\)/)
    expect(human.stdout).toContain('maxErrors')
    expect(human.all).not.toMatch(STACK_FRAME)
    secretFree(human.all)

    const json = await ws.run(['run', '--json'], { env })
    expect(json.code).toBe(1)
    const lines = jsonLines(json.stdout)
    expect(lines).toHaveLength(2)
    lines.forEach(expectResultLine)
    expect(lines[0]).toMatchObject({ id: 'people', status: 'failed', failed: 1, error: expect.stringContaining('Christopher'), errorCode: 'ERROR_BUDGET_EXCEEDED' })
    expect(lines[1]).toMatchObject({ id: 'people-copy', status: 'succeeded', created: 6 })
    secretFree(json.all)

    // The batches before the bad record landed, and the watermark is after them.
    expect((await pg.query<{ id: number }>(`SELECT id FROM people ORDER BY id`)).map((r) => r.id)).toEqual([1, 2, 3, 4])
    const status = await ws.run(['status'], { env })
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/^people: failed at \S+ \(\d+ created, 0 updated, 0 deleted, 1 failed\)/m)
    expect(status.stdout).toContain('watermark: {"cursor":"2026-01-04T00:00:00.000000Z","key":[4]}')
    secretFree(status.all)
    const statusJson = jsonLines((await ws.run(['status', '--json'], { env })).stdout)
    expect(statusJson.find((s) => s.id === 'people')).toMatchObject({ watermark: { cursor: '2026-01-04T00:00:00.000000Z', key: [4] }, lastRun: { status: 'failed', failed: 1 } })
    secretFree(JSON.stringify(statusJson))

    const history = await ws.run(['history', 'people'], { env })
    expect(history.code).toBe(0)
    expect(history.stdout.match(/ people {2}failed {2}incremental/g)).toHaveLength(2)
    expect(history.stdout).toContain('Rejected records')
    expect(history.stdout).toMatch(/(create|update) 5: .*'Christopher'.*allows \(5\)/)
    expect(history.stdout).toMatch(/\{"id":5,.*"name":"Christopher"/)
    secretFree(history.all)
    const historyJson = jsonLines((await ws.run(['history', 'people', '--json'], { env })).stdout)
    expect(historyJson.filter((l) => l.kind === 'run')).toHaveLength(2)
    expect(historyJson.find((l) => l.kind === 'recordError')).toMatchObject({ syncId: 'people', recordId: '5', reason: expect.stringContaining('Christopher'), record: { id: 5, name: 'Christopher' } })

    // Widening the column fixes it: the next run retries from the watermark.
    await pg.exec(`ALTER TABLE people ALTER COLUMN name TYPE varchar(50)`)
    const fixed = await ws.run(['run', 'people', '--json'], { env })
    expect(fixed.code).toBe(0)
    expect(jsonLines(fixed.stdout)[0]).toMatchObject({ status: 'succeeded', created: 2, failed: 0 })
    expect((await pg.query<{ name: string }>(`SELECT name FROM people ORDER BY id`)).map((r) => r.name)).toEqual(names)
  })
})
