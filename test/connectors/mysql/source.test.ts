/**
 * Reading from MySQL: key order equal to compareText whatever the column's
 * collation (emoji, case pairs, trailing spaces), filters whose values look
 * like SQL, abandoned scans that give their connection back, and the start
 * of the oldest open writing transaction.
 */
import mysql from 'mysql2/promise'
import { describe, expect, it } from 'vitest'
import type { Row } from '../../../src/values/canonical.js'
import { compareText } from '../../../src/values/compare.js'
import { MYSQL_URL, hasMysql } from '../../helpers/services.js'
import { writingTransactions } from '../../../src/connectors/mysql/source.js'
import { scanAll, useMysqlFixture } from './fixture.js'

const TEXT_KEYS = ['a', 'B', 'b', 'A', 'é', 'e', 'E', 'z', 'Z', '😀', '😀a', '😁', '\uFFFF', 'ÿ', '€', 'aa', 'ab', 'aB', 'AB', 'Ab', '中', '\u{10FFFF}', 'Ω', '~', '0', '10', '9', 'ｚ', '🀄', 'e\u0301', 'a\t', 'a!']

describe.skipIf(!(await hasMysql()))('MySQL source', () => {
  const my = useMysqlFixture()

  for (const collation of ['utf8mb4_bin', 'utf8mb4_general_ci', 'utf8mb4_unicode_ci']) {
    it(`text keys come in compareText order under ${collation}, across batches and after a key`, async () => {
      const table = `keys_${collation}`
      // A case-insensitive collation cannot hold 'a' and 'A' as unique keys: the id breaks ties.
      await my.sql(`CREATE TABLE \`${table}\` (id INT PRIMARY KEY, k VARCHAR(20) COLLATE ${collation} NOT NULL)`)
      await my.connector().apply(table, { upserts: TEXT_KEYS.map((k, id) => ({ id, k })), deletes: [] }, { keys: ['id'] })
      const sorted = [...TEXT_KEYS].sort(compareText)
      const { rows, batches } = await scanAll(my.connector(), table, { fields: [], keys: ['k'], batchSize: 5 })
      expect(rows.map((r) => r.k)).toEqual(sorted)
      expect(batches).toEqual([...Array(Math.floor(sorted.length / 5)).fill(5), ...(sorted.length % 5 ? [sorted.length % 5] : [])])
      const after = await scanAll(my.connector(), table, { fields: [], keys: ['k'], batchSize: 5, after: ['a'] })
      expect(after.rows.map((r) => r.k)).toEqual(sorted.slice(sorted.indexOf('a') + 1))
    })
  }

  it('a cursor scan over DATETIME(6) never loses rows that share a cursor value', async () => {
    await my.sql('CREATE TABLE events (id INT PRIMARY KEY, updated_at DATETIME(6), note TEXT, KEY (updated_at))')
    const rows: Row[] = Array.from({ length: 40 }, (_, i) => ({ id: i + 1, updated_at: i % 3 === 0 ? '2026-01-01T00:00:00.000001Z' : `2026-01-0${(i % 3) + 1}T00:00:00.000000Z`, note: `n${i}` }))
    await my.connector().apply('events', { upserts: rows, deletes: [] }, { keys: ['id'] })
    const read: Row[] = []
    let from: { value: Row[string]; key: Row[string][] } | undefined
    // Resume after each batch, as the engine does across runs.
    for (;;) {
      const page = await scanAll(my.connector(), 'events', { fields: ['note'], keys: ['id'], cursor: { field: 'updated_at', ...(from ? { from } : {}) }, batchSize: 7 })
      if (page.rows.length === 0) break
      const batch = page.rows.slice(0, 7)
      read.push(...batch)
      const last = batch[batch.length - 1]!
      from = { value: last.updated_at!, key: [last.id!] }
    }
    expect(read.map((r) => r.id).sort((a, b) => Number(a) - Number(b))).toEqual(rows.map((r) => r.id))
  })

  it('filter values that look like SQL are only data', async () => {
    await my.sql('CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(100))')
    const evil = ["'; DROP TABLE notes; --", "' OR '1'='1", '`; DELETE FROM notes; --', '\\', '\\\'', '%', '_']
    await my.connector().apply('notes', { upserts: evil.map((body, id) => ({ id, body })), deletes: [] }, { keys: ['id'] })
    for (const [id, body] of evil.entries()) {
      const { rows } = await scanAll(my.connector(), 'notes', { fields: ['body'], keys: ['id'], filters: [{ field: 'body', op: '=', value: body }] })
      expect(rows).toEqual([{ id, body }])
      expect(await my.connector().count('notes', [{ field: 'body', op: 'in', value: [body, 'x'] }])).toBe(1)
    }
    expect(await my.connector().count('notes')).toBe(evil.length)
  })

  it('a scan abandoned mid-way closes its connection; the pool keeps working', async () => {
    await my.sql('CREATE TABLE many (id INT PRIMARY KEY, v TEXT)')
    await my.connector().apply('many', { upserts: Array.from({ length: 3000 }, (_, i) => ({ id: i, v: 'x'.repeat(200) })), deletes: [] }, { keys: ['id'] })
    // More abandoned scans than the pool has connections.
    for (let i = 0; i < 15; i++) {
      for await (const batch of my.connector().scan('many', { fields: ['v'], keys: ['id'], batchSize: 10 })) {
        expect(batch).toHaveLength(10)
        break
      }
    }
    expect(await my.connector().count('many')).toBe(3000)
    const rows = await my.connector().lookup('many', ['id'], [[5], [2999], [4000]], ['v'])
    expect(rows.map((r) => r.id).sort()).toEqual([2999, 5])
  })

  it('oldestOpenTransactionStart sees a writing transaction on another connection, not read-only ones or scans', async () => {
    await my.sql('CREATE TABLE ledger (id INT PRIMARY KEY)')
    await my.connector().apply('ledger', { upserts: Array.from({ length: 50 }, (_, id) => ({ id })), deletes: [] }, { keys: ['id'] })
    const pool = mysql.createPool({ uri: my.url(), connectionLimit: 1 })
    const writer = await mysql.createConnection({ uri: my.url() })
    const reader = await mysql.createConnection({ uri: MYSQL_URL })
    const scan = my.connector().scan('ledger', { fields: [], keys: ['id'], batchSize: 1 })[Symbol.asyncIterator]()
    try {
      await reader.query('START TRANSACTION READ ONLY')
      await reader.query(`SELECT COUNT(*) FROM \`${my.name()}\`.ledger`)
      // A scan in flight, paused on a full socket.
      await scan.next()
      await writer.query('BEGIN')
      await writer.query('INSERT INTO ledger VALUES (100)')
      const before = Date.now()
      await new Promise((resolve) => setTimeout(resolve, 250))
      // Other test files may have transactions open too: look at connection ids.
      const open = await writingTransactions(pool)
      const ids = open.map((t) => t.threadId)
      expect(ids).toContain(writer.threadId)
      expect(ids).not.toContain(reader.threadId)
      const mine = open.find((t) => t.threadId === writer.threadId)!
      expect(mine.started).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000Z$/)
      expect(Date.parse(mine.started)).toBeLessThanOrEqual(before)
      expect(Date.parse(mine.started)).toBeGreaterThan(before - 60_000)
      const oldest = await my.connector().oldestOpenTransactionStart!()
      expect(oldest! <= mine.started).toBe(true)
      await writer.query('ROLLBACK')
      // INNODB_TRX is a cache refreshed at most every 0.1 s.
      await new Promise((resolve) => setTimeout(resolve, 250))
      expect((await writingTransactions(pool)).map((t) => t.threadId)).not.toContain(writer.threadId)
    } finally {
      await scan.return?.()
      await writer.end()
      await reader.end()
      await pool.end()
    }
  })
})
