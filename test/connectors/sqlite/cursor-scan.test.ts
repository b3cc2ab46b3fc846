/**
 * A SQLite cursor scan over a cursor compared through its canonical form
 * (ISO text with milliseconds in a DATETIME column) sorts once (issue 6,
 * item 9): it used to page by keyset, each page a full scan and sort that
 * converted every row's cursor again, which made incremental runs 10-17x
 * slower than a full sync. Rows still come once each, in (cursor, key)
 * order, and nothing of the sort is left behind.
 */
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { decodeValue } from '../../../src/connectors/sqlite/codec.js'
import { COMPARABLE_FUNCTION, CompareModes } from '../../../src/connectors/sqlite/dialect.js'
import { describeTable, findTable } from '../../../src/connectors/sqlite/introspect.js'
import { scanRows, type ReadTarget } from '../../../src/connectors/sqlite/source.js'
import type { Row } from '../../../src/values/canonical.js'

const ROWS = 2000
const TIMES = ['2025-01-06T12:00:00.517Z', '2025-01-06T12:00:00.000Z']

let db: Database.Database
let conversions: number
let target: ReadTarget
beforeEach(() => {
  db = new Database(':memory:')
  db.defaultSafeIntegers(true)
  // The canonical form, counted: each call is one row's cursor converted in JavaScript.
  conversions = 0
  db.function(COMPARABLE_FUNCTION, { deterministic: true, safeIntegers: true }, (_type: unknown, cell: unknown, _field: unknown) => {
    conversions++
    return decodeValue(cell, 'timestamp') as string
  })
  db.exec(`CREATE TABLE events (id INTEGER PRIMARY KEY, updated_at DATETIME NOT NULL)`)
  const insert = db.prepare(`INSERT INTO events VALUES (?, ?)`)
  for (let id = 1; id <= ROWS; id++) insert.run(BigInt(id), TIMES[id % 2])
  const entity = describeTable(db, findTable(db, 'events')!)
  target = { db, entity, modes: new CompareModes().of(db, entity, ['id', 'updated_at'], true) }
})
afterEach(() => db.close())

async function scan(batchSize: number, stopAfter = Infinity): Promise<Row[]> {
  const rows: Row[] = []
  for await (const batch of scanRows(target, { fields: ['id', 'updated_at'], keys: ['id'], cursor: { field: 'updated_at', from: { value: '2025-01-06T11:59:00.000000Z' } }, batchSize })) {
    rows.push(...batch)
    if (rows.length >= stopAfter) break
  }
  return rows
}

describe('a SQLite cursor scan of a cursor compared through its canonical form', () => {
  it('converts each row a bounded number of times, not once per page', async () => {
    expect(target.modes.get('updated_at')).toBe('normalized')
    const rows = await scan(20) // 100 pages
    expect(rows).toHaveLength(ROWS)
    // WHERE and ORDER BY each convert a row once; 100 pages used to convert every row 100 times over.
    expect(conversions).toBeLessThanOrEqual(3 * ROWS)
    const expected = Array.from({ length: ROWS }, (_, i) => i + 1).sort((a, b) => (b % 2) - (a % 2) || a - b) // odd ids hold the earlier time
    expect(rows.map((r) => r.id)).toEqual(expected)
    expect(rows[0]!.updated_at).toBe('2025-01-06T12:00:00.000000Z')
  })

  it('leaves no temporary table behind, whether it ran to the end or was abandoned', async () => {
    await scan(20)
    expect(await scan(20, 100)).toHaveLength(100)
    expect(db.prepare(`SELECT count(*) FROM sqlite_temp_master`).pluck().get()).toBe(0n)
  })
})
