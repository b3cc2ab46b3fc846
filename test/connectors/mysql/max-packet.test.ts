/**
 * Writing under a small max_allowed_packet (512 kB, set globally while the
 * connector opens its connections, then restored):
 * every multi-row statement stays under it even when the rows carry values
 * that travel larger than they look (integers beyond 2^53 go as 19-digit
 * text), and a record that cannot fit alone is a RecordError naming the
 * field, its size and the setting, with nothing sent and the connection kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Connector } from '../../../src/connectors/connector.js'
import { createMysqlConnector } from '../../../src/connectors/mysql/connector.js'
import type { Row } from '../../../src/values/canonical.js'
import { createMysqlDatabase, hasMysql, MYSQL_URL, mysqlQuery } from '../../helpers/services.js'
import { rejection } from './fixture.js'

const PACKET = 512 * 1024
const COLUMNS = Array.from({ length: 119 }, (_, i) => `c${i + 1}`)

describe.skipIf(!(await hasMysql()))('MySQL sink under max_allowed_packet', () => {
  let database: Awaited<ReturnType<typeof createMysqlDatabase>>
  let connector: Connector
  let restore: number
  beforeAll(async () => {
    database = await createMysqlDatabase('syncline_packet')
    await mysqlQuery(database.url, `CREATE TABLE wide (id INT PRIMARY KEY, ${COLUMNS.map((c) => `${c} BIGINT NOT NULL`).join(', ')})`)
    await mysqlQuery(database.url, `CREATE TABLE docs (id INT PRIMARY KEY, title VARCHAR(20) NOT NULL, body LONGTEXT)`)
    const [row] = await mysqlQuery<{ packet: number | string }>(MYSQL_URL, 'SELECT @@global.max_allowed_packet AS packet')
    restore = Number(row!.packet)
    // A session keeps the value it connected with: lowered only while this
    // connector opens its connections, so tests running beside it are not affected.
    await mysqlQuery(MYSQL_URL, `SET GLOBAL max_allowed_packet = ${PACKET}`)
    try {
      connector = createMysqlConnector({ name: 'db', url: database.url })
      await connector.describe('wide')
      await connector.describe('docs')
    } finally {
      await mysqlQuery(MYSQL_URL, `SET GLOBAL max_allowed_packet = ${restore}`)
    }
  })
  afterAll(async () => {
    await connector?.close()
    await database?.drop()
  })

  it('splits a batch whose rows fit alone but not together (500 rows of big integers, ~1.3 MB)', async () => {
    const rows: Row[] = Array.from({ length: 500 }, (_, i) => {
      const row: Row = { id: i + 1 }
      COLUMNS.forEach((c, j) => (row[c] = 9_000_000_000_000_000_000n + BigInt(i * 1000 + j)))
      return row
    })
    expect(await connector.apply('wide', { upserts: rows, deletes: [] }, { keys: ['id'] })).toEqual({ upserted: 500, deleted: 0 })
    const [check] = await mysqlQuery<{ n: number | string; last: string }>(database.url, `SELECT count(*) AS n, CAST(max(c119) AS CHAR) AS last FROM wide`)
    expect(Number(check!.n)).toBe(500)
    expect(check!.last).toBe('9000000000000499118')
  })

  it('rejects a record larger than the packet by name, size and setting; nothing is written and the connection stays usable', async () => {
    const body = 'x'.repeat(PACKET + 10_000)
    const error = await rejection(
      connector.apply('docs', { upserts: [{ id: 1, title: 'small', body: 'ok' }, { id: 2, title: 'too big', body }], deletes: [] }, { keys: ['id'] }),
    )
    expect(error).toMatchObject({ code: 'VALUE_REJECTED', failure: 'data', details: expect.objectContaining({ field: 'body', key: [2], bytes: PACKET + 10_000 }) })
    expect(error.message).toContain('(id=2)')
    expect(error.message).toContain(`body: value of ${(PACKET + 10_000).toLocaleString('en-US')} bytes`)
    expect(error.message).toContain(`max_allowed_packet is ${PACKET.toLocaleString('en-US')} bytes`)
    expect(error.message).toMatch(/SET GLOBAL max_allowed_packet = 1073741824/)
    expect(await connector.count('docs')).toBe(0)

    // A value of half the packet still goes through, and the connection that refused nothing is fine.
    const wideDoc: Row = { id: 3, title: 'wide', body: 'y'.repeat(PACKET / 2) }
    await expect(connector.apply('docs', { upserts: [wideDoc], deletes: [] }, { keys: ['id'] })).resolves.toEqual({ upserted: 1, deleted: 0 })
    expect(await connector.apply('docs', { upserts: [{ id: 1, title: 'small', body: 'ok' }], deletes: [] }, { keys: ['id'] })).toEqual({ upserted: 1, deleted: 0 })
    expect(await connector.count('docs')).toBe(2)
  })
})
