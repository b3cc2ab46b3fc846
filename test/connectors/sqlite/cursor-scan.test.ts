/**
 * A SQLite cursor scan over a cursor compared through its canonical form
 * (ISO text with milliseconds in a DATETIME column) sorts once (issue 6,
 * item 9): it used to page by keyset, each page a full scan and sort that
 * converted every row's cursor again, which made incremental runs 10-17x
 * slower than a full sync. Rows still come once each, in (cursor, key)
 * order, and nothing of the sort is left behind. A column all in one common
 * spelling is made canonical by SQLite itself, without the function.
 */
import Database from 'better-sqlite3'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { decodeValue } from '../../../src/connectors/sqlite/codec.js'
import { COMPARABLE_FUNCTION, CompareModes, TIMESTAMP_SPELLINGS, type TimestampSpelling } from '../../../src/connectors/sqlite/dialect.js'
import { describeTable, findTable } from '../../../src/connectors/sqlite/introspect.js'
import { scanRows, type ReadTarget } from '../../../src/connectors/sqlite/source.js'
import type { Row } from '../../../src/values/canonical.js'

const ROWS = 2000
/** Two instants, each in two spellings (`toISOString()` and SQLite's `strftime('%Y-%m-%d %H:%M:%f')`). */
const SPELLED = [
  ['2025-01-06T12:00:00.517Z', '2025-01-06 12:00:00.517'],
  ['2025-01-06T12:00:00.000Z', '2025-01-06 12:00:00.000'],
]

let db: Database.Database
let conversions: number
let target: ReadTarget
/** Fill the table; `mixed`: every third row in the other spelling. */
function fill(mixed: boolean): void {
  const insert = db.prepare(`INSERT INTO events VALUES (?, ?)`)
  for (let id = 1; id <= ROWS; id++) insert.run(BigInt(id), SPELLED[id % 2]![mixed && id % 3 === 0 ? 1 : 0])
  const entity = describeTable(db, findTable(db, 'events')!)
  target = { db, entity, modes: new CompareModes().of(db, entity, ['id', 'updated_at'], true) }
}

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

/** Odd ids hold the earlier instant; within one, by id. */
const EXPECTED = Array.from({ length: ROWS }, (_, i) => i + 1).sort((a, b) => (b % 2) - (a % 2) || a - b)

describe('a SQLite cursor scan of a cursor compared through its canonical form', () => {
  it('in mixed spellings, converts each row a bounded number of times, not once per page', async () => {
    fill(true)
    expect(target.modes.get('updated_at')).toBe('normalized')
    const rows = await scan(20) // 100 pages
    expect(rows).toHaveLength(ROWS)
    // WHERE and ORDER BY each convert a row once; 100 pages used to convert every row 100 times over.
    expect(conversions).toBeLessThanOrEqual(3 * ROWS)
    expect(rows.map((r) => r.id)).toEqual(EXPECTED)
    expect(rows[0]!.updated_at).toBe('2025-01-06T12:00:00.000000Z')
  })

  it("in one spelling (toISOString's milliseconds), is made canonical by SQLite itself, in the same order", async () => {
    fill(false)
    expect(target.modes.get('updated_at')).toBe('iso-millis')
    const rows = await scan(20)
    expect(conversions).toBe(0)
    expect(rows.map((r) => r.id)).toEqual(EXPECTED)
  })

  it('leaves no temporary table behind, whether it ran to the end or was abandoned', async () => {
    fill(true)
    await scan(20)
    expect(await scan(20, 100)).toHaveLength(100)
    expect(db.prepare(`SELECT count(*) FROM sqlite_temp_master`).pluck().get()).toBe(0n)
  })
})

describe('the SQL form of each timestamp spelling', () => {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0')
  const instants = fc.record({
    year: fc.integer({ min: 1, max: 9999 }),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 28 }),
    hour: fc.integer({ min: 0, max: 23 }),
    minute: fc.integer({ min: 0, max: 59 }),
    second: fc.integer({ min: 0, max: 59 }),
    millis: fc.integer({ min: 0, max: 999 }),
  })
  type Instant = { year: number; month: number; day: number; hour: number; minute: number; second: number; millis: number }
  const spell: Record<TimestampSpelling, (t: Instant) => string> = {
    'iso-millis': (t) => `${pad(t.year, 4)}-${pad(t.month)}-${pad(t.day)}T${pad(t.hour)}:${pad(t.minute)}:${pad(t.second)}.${pad(t.millis, 3)}Z`,
    'iso-seconds': (t) => `${pad(t.year, 4)}-${pad(t.month)}-${pad(t.day)}T${pad(t.hour)}:${pad(t.minute)}:${pad(t.second)}Z`,
    'sql-seconds': (t) => `${pad(t.year, 4)}-${pad(t.month)}-${pad(t.day)} ${pad(t.hour)}:${pad(t.minute)}:${pad(t.second)}`,
    'sql-millis': (t) => `${pad(t.year, 4)}-${pad(t.month)}-${pad(t.day)} ${pad(t.hour)}:${pad(t.minute)}:${pad(t.second)}.${pad(t.millis, 3)}`,
  }
  it.each(Object.keys(TIMESTAMP_SPELLINGS) as TimestampSpelling[])('%s is the canonical text decoding gives', (name) => {
    const sql = db.prepare(`SELECT ${TIMESTAMP_SPELLINGS[name].canonical('c')}, c GLOB '${TIMESTAMP_SPELLINGS[name].glob}' FROM (SELECT ? AS c)`).raw(true)
    fc.assert(
      fc.property(instants, (t) => {
        const text = spell[name](t)
        expect(sql.get(text)).toEqual([decodeValue(text, 'timestamp'), 1n])
      }),
      { numRuns: 500 },
    )
  })
})
