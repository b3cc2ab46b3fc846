/**
 * A value larger than the MariaDB server's max_allowed_packet (issue 6,
 * item 7): a rejected record naming the field, the value's size and the
 * server setting (with how to raise it), counted against maxErrors, while
 * the other rows land; never a lost connection to "run again". (Rows that
 * fit one by one but not together in one INSERT: test/connectors/mysql/max-packet.test.ts.)
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createMysqlDatabase, hasMysql, MYSQL_URL, mysqlQuery } from '../helpers/services.js'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines, STACK_FRAME } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

const mysqlAvailable = await hasMysql()

/**
 * Tests use the server's own setting; only a server set above this is
 * lowered for the test (and restored), to keep the values small.
 */
const LARGEST_TESTED_PACKET = 64 * 1024 * 1024

describe.skipIf(!mysqlAvailable)('a value over max_allowed_packet, SQLite → MariaDB', () => {
  let database: Awaited<ReturnType<typeof createMysqlDatabase>>
  let packet: number
  let restore: number | undefined
  let ws: Workspace | undefined
  beforeAll(async () => {
    await ensureBuilt()
    database = await createMysqlDatabase('syncline_packet')
    const [row] = await mysqlQuery<{ packet: number | string }>(MYSQL_URL, 'SELECT @@global.max_allowed_packet AS packet')
    packet = Number(row!.packet)
    if (packet > LARGEST_TESTED_PACKET) {
      restore = packet
      packet = 16 * 1024 * 1024
      // New connections pick up the global value; the CLI opens its own.
      await mysqlQuery(MYSQL_URL, `SET GLOBAL max_allowed_packet = ${packet}`)
    }
  }, BUILD_TIMEOUT_MS)
  afterAll(async () => {
    if (restore !== undefined) await mysqlQuery(MYSQL_URL, `SET GLOBAL max_allowed_packet = ${restore}`)
    await database?.drop()
  })
  afterEach(() => {
    ws?.remove()
    ws = undefined
  })

  /** `docs`: ids 1-3 and 5 small, 4 larger than the packet; 6-9 each 40 % of it (together well over). */
  function fixture(maxErrors: number): Workspace {
    const TOO_BIG = Math.floor(packet * 1.25)
    const w = workspace()
    w.sqlite('shop.db', `CREATE TABLE docs (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT)`)
    w.sqlite('shop.db', `INSERT INTO docs VALUES (1, 'a', 'small'), (2, 'b', NULL), (3, 'c', 'small'), (5, 'e', 'small')`)
    w.sqlite('shop.db', `INSERT INTO docs VALUES (4, 'too big', printf('%.*c', ${TOO_BIG}, 'x'))`)
    for (let id = 6; id <= 9; id++) w.sqlite('shop.db', `INSERT INTO docs VALUES (${id}, 'large', printf('%.*c', ${Math.floor(packet * 0.4)}, 'y'))`)
    w.write('syncline.yaml', `connections:
  shop:
    url: sqlite:./shop.db
  db:
    url: ${database.url}
syncs:
  - id: docs
    source: { connection: shop, entity: docs }
    destination: { connection: db, entity: docs, create: true }
    batchSize: 100
    maxErrors: ${maxErrors}
`)
    return w
  }

  it('is a rejected record naming the field, its size and the setting; the other rows land', async () => {
    ws = fixture(1)
    const run = await ws.run(['run', '--json'], { timeoutMs: 180_000 })
    expect(run.code, run.all).toBe(1)
    const [line] = jsonLines(run.stdout)
    expect(line).toMatchObject({ id: 'docs', status: 'partial', read: 9, created: 8, failed: 1 })
    expect(run.all).not.toMatch(STACK_FRAME)
    expect(run.all).not.toMatch(/lost the connection|run again/i)

    const rows = await mysqlQuery<{ id: number; size: number | string | null }>(database.url, 'SELECT id, LENGTH(body) AS size FROM docs ORDER BY id')
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3, 5, 6, 7, 8, 9])
    expect(rows.filter((r) => r.id >= 6).map((r) => Number(r.size))).toEqual(new Array(4).fill(Math.floor(packet * 0.4)))

    const history = await ws.run(['history', 'docs', '--json'])
    const errors = jsonLines(history.stdout).filter((l) => l.kind === 'recordError')
    expect(errors).toHaveLength(1)
    const reason = String(errors[0]!.reason)
    expect(reason).toMatch(/id=4/)
    expect(reason).toMatch(/\bbody\b/)
    expect(reason).toContain(`${Math.floor(packet * 1.25).toLocaleString('en-US')} bytes`)
    expect(reason).toContain(`max_allowed_packet is ${packet.toLocaleString('en-US')} bytes`)
    expect(reason).toMatch(/SET GLOBAL max_allowed_packet/)
  }, 240_000)

  it('counts toward maxErrors: with maxErrors 0 the run fails with the reason, not a lost connection', async () => {
    ws = fixture(0)
    const run = await ws.run(['run', '--json'], { timeoutMs: 180_000 })
    expect(run.code, run.all).toBe(1)
    const [line] = jsonLines(run.stdout)
    expect(line).toMatchObject({ id: 'docs', status: 'failed', failed: 1, errorCode: 'ERROR_BUDGET_EXCEEDED' })
    expect(String(line!.error)).toMatch(/body.*max_allowed_packet/s)
  }, 240_000)
})
