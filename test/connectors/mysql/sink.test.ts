/**
 * Writing to MySQL: idempotent upserts that count only real changes, only
 * the given columns written, deletes, rejected records named by key, field
 * and limit with the batch rolled back, keys a case-insensitive collation
 * would merge refused, and batches larger than a statement or a packet.
 */
import { describe, expect, it } from 'vitest'
import { RecordError, SynclineError } from '../../../src/errors.js'
import type { Row } from '../../../src/values/canonical.js'
import { hasMysql } from '../../helpers/services.js'
import { rejection, scanAll, useMysqlFixture } from './fixture.js'

const items = (count: number, version = 1, from = 1): Row[] =>
  Array.from({ length: count }, (_, i) => ({
    id: from + i,
    name: `item ${from + i} v${version}`,
    amount: `${from + i}.${String(version).padStart(2, '0')}`,
    // DATETIME(6) holds a local timestamp: no zone.
    updated_at: `2026-11-21T10:00:00.${String(version).padStart(6, '0')}`,
  }))

const ITEM_FIELDS = ['name', 'amount', 'updated_at']

describe.skipIf(!(await hasMysql()))('MySQL sink', () => {
  const my = useMysqlFixture()
  const connector = () => my.connector()
  const read = async (entity: string, fields = ITEM_FIELDS, keys = ['id']) => (await scanAll(connector(), entity, { fields, keys })).rows
  const createItems = (name: string, extra = '') =>
    my.sql(`CREATE TABLE \`${name}\` (id BIGINT PRIMARY KEY, name VARCHAR(20) NOT NULL, amount DECIMAL(12,2), updated_at DATETIME(6)${extra})`)
  const apply = (entity: string, upserts: Row[], deletes: Row[string][][] = [], keys = ['id']) => connector().apply(entity, { upserts, deletes }, { keys })

  it('is idempotent and counts only rows inserted or changed', async () => {
    await createItems('items')
    expect(await apply('items', items(30))).toEqual({ upserted: 30, deleted: 0 })
    expect(await apply('items', items(30))).toEqual({ upserted: 0, deleted: 0 })
    expect(await read('items')).toEqual(items(30))
    const mixed = [...items(10), ...items(10, 2, 11), ...items(10, 1, 31)]
    expect(await apply('items', mixed)).toEqual({ upserted: 20, deleted: 0 })
    expect(await read('items')).toEqual([...items(10), ...items(10, 2, 11), ...items(10, 1, 21), ...items(10, 1, 31)])
  })

  it('writes only the columns present in the rows; the others keep their values', async () => {
    await createItems('items_partial', `, note VARCHAR(30) DEFAULT 'kept'`)
    await apply('items_partial', items(2))
    await my.sql(`UPDATE items_partial SET note = 'set by someone else' WHERE id = 1`)
    await apply('items_partial', items(3, 2).map((r) => ({ id: r.id!, name: r.name! })))
    expect(await read('items_partial', ['name', 'amount', 'note'])).toEqual([
      { id: 1, name: 'item 1 v2', amount: '1.01', note: 'set by someone else' },
      { id: 2, name: 'item 2 v2', amount: '2.01', note: 'kept' },
      { id: 3, name: 'item 3 v2', amount: null, note: 'kept' },
    ])
  })

  it('deletes by single and composite keys, in the same transaction as the upserts', async () => {
    await createItems('items_delete')
    await apply('items_delete', items(5))
    expect(await apply('items_delete', items(1, 3, 6), [[2], [4], [404]])).toEqual({ upserted: 1, deleted: 2 })
    expect((await read('items_delete')).map((r) => r.id)).toEqual([1, 3, 5, 6])

    await my.sql('CREATE TABLE `Order Lines` (`Order` VARCHAR(10), line INT, qty INT, PRIMARY KEY (`Order`, line))')
    const lines = [
      { Order: 'a', line: 1, qty: 1 },
      { Order: 'a', line: 2, qty: 2 },
      { Order: 'b', line: 1, qty: 3 },
    ]
    await apply('Order Lines', lines, [], ['Order', 'line'])
    expect((await apply('Order Lines', [], [['a', 2], ['b', 2]], ['Order', 'line'])).deleted).toBe(1)
    expect(await read('Order Lines', ['qty'], ['Order', 'line'])).toEqual([lines[0], lines[2]])
  })

  it('rejects what MySQL would refuse or silently change, naming record, field and limit, and writes nothing', async () => {
    await my.sql(`CREATE TABLE strict_values (id INT PRIMARY KEY, name VARCHAR(10) NOT NULL, tiny TINYINT, price DECIMAL(5,2), ratio FLOAT,
      stamp TIMESTAMP(6) NULL, whole DATETIME, note TEXT, ok INT)`)
    await apply('strict_values', [{ id: 1, name: 'first' }])
    const cases: Array<[Row, string, RegExp]> = [
      [{ name: 'x'.repeat(11) }, 'name', /11 characters is longer than varchar\(10\) allows \(10\)/],
      [{ name: null }, 'name', /NOT NULL/],
      [{ tiny: 128 }, 'tiny', /out of range for tinyint\(4\) \(-128 to 127\)/],
      [{ tiny: 1.5 }, 'tiny', /not an integer/],
      [{ price: '1.005' }, 'price', /3 digits after the decimal point; decimal\(5,2\) keeps 2/],
      [{ price: '1000' }, 'price', /4 digits before the decimal point; decimal\(5,2\) allows 3/],
      [{ ratio: 0.30000000000000004 }, 'ratio', /FLOAT \(single precision\)/],
      [{ ratio: Number.NaN }, 'ratio', /NaN/],
      [{ stamp: '2040-01-01T00:00:00.000000Z' }, 'stamp', /range of TIMESTAMP/],
      [{ whole: '2026-01-01T00:00:00.500000Z' }, 'whole', /more fraction digits than datetime keeps \(0\)/],
      [{ note: 'é'.repeat(40_000) }, 'note', /80000 bytes .* TEXT holds \(65535 bytes\)/],
      [{ note: 'lone \uD800 surrogate' }, 'note', /lone UTF-16 surrogate/],
    ]
    for (const [change, fieldName, limit] of cases) {
      const error = await rejection(apply('strict_values', [{ id: 2, name: 'second', ...change }, { id: 1, name: 'changed' }], [[1]]))
      expect(error, fieldName).toBeInstanceOf(RecordError)
      expect(error).toMatchObject({ code: 'VALUE_REJECTED', failure: 'data' })
      expect(error.message).toContain('id=2')
      expect(error.message).toContain(`${fieldName}:`)
      expect(error.message).toMatch(limit)
    }
    expect(await read('strict_values', ['name'])).toEqual([{ id: 1, name: 'first' }])
  })

  it('pins an error the server raises to the record of the multi-row statement it names', async () => {
    await my.sql(`CREATE TABLE shapes (id INT PRIMARY KEY, kind ENUM('circle', 'square'))`)
    const rows = [{ id: 1, kind: 'circle' }, { id: 2, kind: 'square' }, { id: 3, kind: 'triangle' }, { id: 4, kind: 'circle' }]
    const error = await rejection(apply('shapes', rows))
    expect(error).toBeInstanceOf(RecordError)
    expect(error.message).toContain('id=3')
    expect(error.message).toContain('kind')
    expect(await connector().count('shapes')).toBe(0)
    // The connection went back clean: the good records alone apply.
    expect(await apply('shapes', rows.filter((r) => r.id !== 3))).toEqual({ upserted: 3, deleted: 0 })
  })

  it('never updates the wrong row through another unique key: a duplicate is a rejected record', async () => {
    await my.sql('CREATE TABLE people (id INT PRIMARY KEY, email VARCHAR(50) NOT NULL UNIQUE, name VARCHAR(50))')
    await apply('people', [{ id: 1, email: 'a@x.org', name: 'Ann' }, { id: 2, email: 'b@x.org', name: 'Bob' }])
    expect(await apply('people', [{ id: 1, email: 'a@x.org', name: 'Ann' }, { id: 2, email: 'b@x.org', name: 'Bobby' }])).toEqual({ upserted: 1, deleted: 0 })
    const error = await rejection(apply('people', [{ id: 3, email: 'a@x.org', name: 'Impostor' }]))
    expect(error).toBeInstanceOf(RecordError)
    expect(error.message).toContain('id=3')
    expect(error.message).toMatch(/Duplicate entry 'a@x.org'/)
    expect(await read('people', ['email', 'name'])).toEqual([
      { id: 1, email: 'a@x.org', name: 'Ann' },
      { id: 2, email: 'b@x.org', name: 'Bobby' },
    ])
  })

  it('upserts by a unique key beside an AUTO_INCREMENT id, and by keys no index covers', async () => {
    await my.sql('CREATE TABLE coded (id INT AUTO_INCREMENT PRIMARY KEY, code VARCHAR(10) NOT NULL UNIQUE, v INT)')
    await my.sql('CREATE TABLE loose (code VARCHAR(10) NOT NULL, v INT)')
    for (const table of ['coded', 'loose']) {
      const rows = [{ code: 'a', v: 1 }, { code: 'b', v: 2 }]
      expect(await apply(table, rows, [], ['code'])).toEqual({ upserted: 2, deleted: 0 })
      expect(await apply(table, [{ code: 'a', v: 1 }, { code: 'b', v: 20 }, { code: 'c', v: 3 }], [], ['code'])).toEqual({ upserted: 2, deleted: 0 })
      expect(await apply(table, [], [['c']], ['code'])).toEqual({ upserted: 0, deleted: 1 })
      expect(await read(table, ['v'], ['code'])).toEqual([{ code: 'a', v: 1 }, { code: 'b', v: 20 }])
    }
  })

  it('refuses keys a case-insensitive or PAD SPACE collation would merge, with the fix', async () => {
    await my.sql('CREATE TABLE ci_keys (k VARCHAR(20) COLLATE utf8mb4_general_ci PRIMARY KEY, v INT)')
    await my.sql('CREATE TABLE pad_keys (k VARCHAR(20) COLLATE utf8mb4_bin PRIMARY KEY, v INT)')
    // Keys the collation keeps apart are fine.
    expect(await apply('ci_keys', [{ k: 'a', v: 1 }, { k: 'b', v: 2 }], [], ['k'])).toEqual({ upserted: 2, deleted: 0 })
    for (const [table, batch] of [
      ['ci_keys', [{ k: 'x', v: 1 }, { k: 'X', v: 2 }]],
      ['ci_keys', [{ k: 'A', v: 3 }]],
      ['ci_keys', [{ k: 'é', v: 1 }, { k: 'e', v: 2 }]],
      ['pad_keys', [{ k: 'a', v: 1 }, { k: 'a ', v: 2 }]],
    ] as const) {
      const error = await rejection(apply(table, [...batch], [], ['k']))
      expect(error).toBeInstanceOf(SynclineError)
      expect(error).toMatchObject({ code: 'KEY_NOT_UNIQUE', failure: 'config' })
      expect(error.message).toContain('collation')
      expect(error.message).toMatch(/nopad_bin/)
    }
    expect(await read('ci_keys', ['v'], ['k'])).toEqual([{ k: 'a', v: 1 }, { k: 'b', v: 2 }])
    expect(await connector().count('pad_keys')).toBe(0)
  })

  it('splits large batches into statements under the placeholder and packet limits', async () => {
    await createItems('items_large', ', note LONGTEXT')
    const rows: Row[] = items(2_500).map((r) => ({ ...r, note: null }))
    // Three rows of 6 MB: more than the server's 16 MB max_allowed_packet together.
    for (const id of [7, 1_000, 2_500]) rows[id - 1] = { ...rows[id - 1]!, note: String(id).padEnd(6_000_000, '.') }
    expect(await apply('items_large', rows)).toEqual({ upserted: 2_500, deleted: 0 })
    expect(await connector().count('items_large')).toBe(2_500)
    const big = await connector().lookup('items_large', ['id'], [[7], [1_000], [2_500]], ['note'])
    expect(big.map((r) => [r.id, (r.note as string).length, (r.note as string).slice(0, 5)]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([
      [7, 6_000_000, '7....'],
      [1_000, 6_000_000, '1000.'],
      [2_500, 6_000_000, '2500.'],
    ])
  })
})
