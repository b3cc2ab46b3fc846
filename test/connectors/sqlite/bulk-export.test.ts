/**
 * The SQLite bulk export (issue 11): its short paths write exactly what
 * decoding each stored value into its canonical value and encoding that as
 * COPY text writes; a table read in rowid batches is read in one snapshot;
 * tables without a usable rowid are read whole, every row once.
 */
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { BulkExport, Connector } from '../../../src/connectors/connector.js'
import { decodeValue } from '../../../src/connectors/sqlite/codec.js'
import { createSqliteConnector } from '../../../src/connectors/sqlite/connector.js'
import { COPY_TEXT_FORMAT, encodeCopyText } from '../../../src/values/copy-text.js'

let dir: string
let path: string
let db: Database.Database
let connector: Connector

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'syncline-bulk-export-'))
  path = join(dir, 'src.db')
  db = new Database(path)
  db.pragma('journal_mode = WAL')
  connector = createSqliteConnector({ name: 'src', url: `sqlite:${path}` })
})
afterEach(async () => {
  await connector.close()
  db.close()
  rmSync(dir, { recursive: true, force: true })
})

async function exported(entity: string, fields: string[]): Promise<BulkExport> {
  const data = await connector.bulkExport!(entity, { fields, format: COPY_TEXT_FORMAT })
  expect(data).toBeDefined()
  return data!
}

/** The export's lines; a broken export that repeats rows forever fails past `limit` bytes instead of hanging. */
async function lines(data: BulkExport, limit = 10_000_000): Promise<string[]> {
  let text = ''
  try {
    for await (const chunk of data.stream) {
      text += chunk.toString('utf8')
      if (text.length > limit) throw new Error(`the export goes on past ${limit} bytes`)
    }
  } finally {
    await data.close()
  }
  return text.split('\n').slice(0, -1)
}

describe('SQLite bulk export', () => {
  it('writes what the canonical value of each stored value encodes to, for the common forms and the odd ones', async () => {
    db.exec(`CREATE TABLE cells (id INTEGER PRIMARY KEY, small INT4, label VARCHAR(40), amount DECIMAL(12,2), loose DECIMAL, whole DECIMAL(10), at TIMESTAMP, flag BOOLEAN, ratio REAL, raw BLOB)`)
    const values: unknown[][] = [
      [1, 0, 'plain', 12.34, 1.5, 7, '2026-11-21T10:00:00.123456Z', 1, 0.1, Buffer.from([0, 1, 255])],
      [2, -2147483648, 'tab\there, new\nline, back\\slash, cr\r', -0.05, 0.30000000000000004, -12, '2026-11-21T10:00:00.123Z', 0, 1e300, null],
      [3, 2147483647, 'ünïcödé 🎉', 0, 1e-7, 0, '2026-11-21 10:00:00', 'true', -0, Buffer.alloc(0)],
      [4, null, null, null, null, null, null, null, null, null],
      [5, 42, '\\N', 9999999999.99, 123456789.123456, 9999999999, 1764000000, 'f', Number.MAX_VALUE, Buffer.from('x')],
      [6, 7, '', '12.50', '-0012.3400', '42', '2024-02-29T23:59:59.999Z', 2, Infinity, 'text in a blob'],
      [7, 8, 'x', 100, 2.5e-3, 1e9, 1764000000123, 't', -Infinity, null],
      [8, 9, 'y', -1234.5, -98765.4321, -1, '2026-11-21T10:00:00+02:00', null, 5e-324, null],
    ]
    const insert = db.prepare(`INSERT INTO cells VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    for (const row of values) insert.run(...row)
    const [entity] = await connector.discover('cells')
    const fields = entity!.fields
    const data = await exported('cells', fields.map((f) => f.name))
    // The general path, applied to the stored values as the row path reads them (exact integers).
    const stored = db.prepare(`SELECT * FROM cells ORDER BY id`).raw(true).safeIntegers(true).all() as unknown[][]
    const expected = stored.map((row) => fields.map((f, i) => encodeCopyText(decodeValue(row[i], f.type), f)).join('\t'))
    expect(await lines(data)).toEqual(expected)
  })

  it('reads a table in batches from one snapshot: rows written meanwhile are not in the export', async () => {
    db.exec(`CREATE TABLE big (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)`)
    const insert = db.prepare(`INSERT INTO big VALUES (?, ?)`)
    db.transaction(() => {
      for (let id = 1; id <= 5000; id++) insert.run(id, `row ${id} `.repeat(20))
    })()
    const data = await exported('big', ['id', 'payload'])
    const iterator = data.stream[Symbol.asyncIterator]()
    let text = ((await iterator.next()).value as Buffer).toString('utf8')
    // The first chunk holds some rows only; the rest is read after these writes.
    expect(text.split('\n').length).toBeLessThan(5000)
    db.prepare(`DELETE FROM big WHERE id > 4000`).run()
    for (let id = 5001; id <= 5100; id++) insert.run(id, 'later')
    for (;;) {
      const next = await iterator.next()
      if (next.done) break
      text += (next.value as Buffer).toString('utf8')
    }
    await data.close()
    const ids = text
      .split('\n')
      .slice(0, -1)
      .map((line) => Number(line.split('\t')[0]))
    expect(ids).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1))
  })

  it('reads every row once of tables whose rowid cannot be paged by: WITHOUT ROWID, columns named like the rowid, rowids past 2^53', async () => {
    db.exec(`CREATE TABLE keyed (code TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID`)
    db.exec(`CREATE TABLE named (rowid TEXT, _rowid_ TEXT, n INTEGER)`)
    db.exec(`CREATE TABLE all_named (rowid TEXT, _rowid_ TEXT, oid TEXT, n INTEGER)`)
    db.exec(`CREATE TABLE huge (n INTEGER)`)
    for (let n = 1; n <= 600; n++) {
      db.prepare(`INSERT INTO keyed VALUES (?, ?)`).run(`k${String(600 - n).padStart(4, '0')}`, n)
      // Column values that sort against the rowid: paging by them would skip or repeat rows.
      db.prepare(`INSERT INTO named VALUES (?, ?, ?)`).run(String(n % 7), String(n % 3), n)
      db.prepare(`INSERT INTO all_named VALUES (?, ?, ?, ?)`).run(String(n % 7), String(n % 3), String(n % 5), n)
      db.prepare(`INSERT INTO huge (rowid, n) VALUES (?, ?)`).run(n === 300 ? 2n ** 62n + 1n : BigInt(n), n)
    }
    for (const table of ['keyed', 'named', 'all_named', 'huge']) {
      const out = await lines(await exported(table, ['n']))
      expect(out.map(Number).sort((a, b) => a - b), table).toEqual(Array.from({ length: 600 }, (_, i) => i + 1))
    }
  })

  it('stops at an integer past 2^53 in any read column, for the row path to read it exactly', async () => {
    db.exec(`CREATE TABLE wide (id INTEGER PRIMARY KEY, big INTEGER)`)
    db.prepare(`INSERT INTO wide VALUES (1, ?)`).run(2n ** 60n + 1n)
    const data = await exported('wide', ['id', 'big'])
    await expect(lines(data)).rejects.toThrow(/beyond 2\^53/)
  })
})
