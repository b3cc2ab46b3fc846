/**
 * Conformance: scans return every row once, in the order the engine's merge
 * expects (compareText / compareKeys), across batch boundaries; cursor scans
 * never lose or repeat rows that share a cursor value; filters run in the
 * datasource with values as data; a scan stops when its signal aborts.
 */
import { describe, expect, it } from 'vitest'
import type { Filter } from '../../src/connectors/connector.js'
import { CancelledError } from '../../src/errors.js'
import type { Row } from '../../src/values/canonical.js'
import { compareKeys, compareText } from '../../src/values/compare.js'
import { field, rejection, scanAll, seed, useConnector } from './fixtures.js'
import { HARNESSES } from './harnesses.js'

const TEXT_KEYS = [
  'a', 'B', 'b', 'A', 'é', 'e', 'z', 'Z', '😀', '😀a', '\uFFFF', '\uFFFFz', 'ÿ', '€', '', 'aa', 'a ', 'ab', 'aB', 'AB', 'Ab',
  '中', '\u{10FFFF}', 'Ω', '~', '0', '10', '9', ' ', '\u00A0', 'ｚ', '🀄', 'e\u0301',
]

const T0 = '2026-01-01T00:00:00.000000Z'
const T1 = '2026-06-15T12:30:45.123456Z'
const T2 = '2026-12-31T23:59:59.999999Z'

/** 30 rows sharing T1, 5 before, 5 after, 2 with no cursor at all; ids shuffled against time. */
const EVENTS: Row[] = [
  ...Array.from({ length: 30 }, (_, i) => ({ id: 100 + ((i * 7) % 30), updated_at: T1, note: `same ${i}` })),
  ...Array.from({ length: 5 }, (_, i) => ({ id: 200 + i, updated_at: T0, note: 'early' })),
  ...Array.from({ length: 5 }, (_, i) => ({ id: 1 + i, updated_at: T2, note: 'late' })),
  { id: 300, updated_at: null, note: 'no cursor' },
  { id: 301, updated_at: null, note: 'no cursor' },
]

const ITEM_FIELDS = [
  field('id', 'integer', { nullable: false }),
  field('name', 'text', { nullable: false }),
  field('qty', 'integer'),
  field('price', 'decimal', { precision: 12, scale: 2 }),
  field('at', 'timestamp'),
  field('tag', 'text'),
]

const ITEMS: Row[] = [
  { id: 1, name: 'apple', qty: 3, price: '9.99', at: T0, tag: 'fruit' },
  { id: 2, name: 'Apple pie', qty: 1, price: '10.50', at: T1, tag: null },
  { id: 3, name: 'Pear', qty: null, price: '100.00', at: T2, tag: 'fruit' },
  { id: 4, name: 'pear', qty: 5, price: '10.5', at: T1, tag: 'fruit' },
  { id: 5, name: "'; DROP TABLE conf_items; --", qty: 2, price: '-1.25', at: null, tag: 'evil' },
  { id: 6, name: '100%_sure', qty: 7, price: '0.00', at: T0, tag: null },
  { id: 7, name: 'Äpfel', qty: 3, price: '2.00', at: T2, tag: 'fruit' },
  { id: 8, name: 'banana', qty: 10, price: '1000.01', at: T1, tag: 'fruit' },
]

/** What SQL would return for one filter, three-valued logic included (NULL never matches a comparison). */
function matches(row: Row, filter: Filter): boolean {
  const v = row[filter.field] ?? null
  const type = ITEM_FIELDS.find((f) => f.name === filter.field)!.type
  const cmp = (x: unknown) => compareKeys([type], [v], [x as never])
  switch (filter.op) {
    case 'is_null':
      return v === null
    case 'is_not_null':
      return v !== null
    case 'in':
      return v !== null && (filter.value as unknown[]).some((x) => cmp(x) === 0)
    case 'not_in':
      return v !== null && (filter.value as unknown[]).every((x) => cmp(x) !== 0)
    case 'like': {
      const pattern = String(filter.value).replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/%/g, '.*').replace(/_/g, '.')
      return v !== null && new RegExp(`^${pattern}$`, 's').test(String(v))
    }
  }
  if (v === null) return false
  const d = cmp(filter.value)
  return { '=': d === 0, '!=': d !== 0, '>': d > 0, '>=': d >= 0, '<': d < 0, '<=': d <= 0 }[filter.op]
}

const FILTER_CASES: Filter[][] = [
  [{ field: 'name', op: '=', value: 'apple' }],
  [{ field: 'qty', op: '!=', value: 3 }],
  [{ field: 'price', op: '>', value: '10.5' }],
  [{ field: 'price', op: '>=', value: '10.50' }],
  [{ field: 'price', op: '<', value: '10' }],
  [{ field: 'qty', op: '<=', value: 3 }],
  [{ field: 'at', op: '>=', value: T1 }],
  [{ field: 'at', op: '<', value: T1 }],
  [{ field: 'name', op: 'in', value: ['apple', 'Pear', 'nothing'] }],
  [{ field: 'qty', op: 'not_in', value: [1, 2] }],
  [{ field: 'name', op: 'like', value: 'Ap%' }],
  [{ field: 'name', op: 'like', value: '_ear' }],
  [{ field: 'tag', op: 'is_null' }],
  [{ field: 'tag', op: 'is_not_null' }],
  [{ field: 'price', op: '=', value: '10.5' }],
  [
    { field: 'tag', op: '=', value: 'fruit' },
    { field: 'qty', op: '>=', value: 3 },
  ],
]

for (const harness of HARNESSES) {
  describe.skipIf(!(await harness.available()))(`${harness.kind}: scan`, () => {
    const connector = useConnector(harness)
    const textKeyed = [field('k', 'text', { nullable: false }), field('n', 'integer')]
    const sortedKeys = [...TEXT_KEYS].sort(compareText)

    it('text keys come in compareText (UTF-8 byte) order across batches', async () => {
      await seed(connector(), 'conf_text_keys', textKeyed, ['k'], TEXT_KEYS.map((k, n) => ({ k, n })))
      const { rows, batches } = await scanAll(connector(), 'conf_text_keys', { fields: ['n'], keys: ['k'], batchSize: 4 })
      expect(rows.map((r) => r.k)).toEqual(sortedKeys)
      expect(batches.every((size) => size <= 4)).toBe(true)
      expect(batches.length).toBe(Math.ceil(TEXT_KEYS.length / 4))
    })

    it('keyset `after` returns only the keys greater than it', async () => {
      await seed(connector(), 'conf_text_keys', textKeyed, ['k'], TEXT_KEYS.map((k, n) => ({ k, n })))
      for (const index of [0, 7, 20, sortedKeys.length - 1]) {
        const { rows } = await scanAll(connector(), 'conf_text_keys', { fields: ['n'], keys: ['k'], batchSize: 3, after: [sortedKeys[index]!] })
        expect(rows.map((r) => r.k)).toEqual(sortedKeys.slice(index + 1))
      }
    })

    it('composite keys order by each key in turn, and `after` resumes mid-way', async () => {
      const fields = [field('grp', 'integer', { nullable: false }), field('name', 'text', { nullable: false }), field('v', 'integer')]
      const rows: Row[] = []
      for (const grp of [-5, 0, 2, 10, 2 ** 40]) for (const name of ['b', 'A', 'a', '😀', 'é']) rows.push({ grp, name, v: rows.length })
      await seed(connector(), 'conf_composite', fields, ['grp', 'name'], rows)
      const types = ['integer', 'text'] as const
      const expected = [...rows].sort((x, y) => compareKeys(types, [x.grp!, x.name!], [y.grp!, y.name!]))
      const all = await scanAll(connector(), 'conf_composite', { fields: ['v'], keys: ['grp', 'name'], batchSize: 4 })
      expect(all.rows.map((r) => [r.grp, r.name])).toEqual(expected.map((r) => [r.grp, r.name]))
      const after = await scanAll(connector(), 'conf_composite', { fields: ['v'], keys: ['grp', 'name'], batchSize: 4, after: [2, 'a'] })
      expect(after.rows.map((r) => r.v)).toEqual(expected.slice(expected.findIndex((r) => r.grp === 2 && r.name === 'a') + 1).map((r) => r.v))
    })

    it('a key-only scan (the key pass) returns rows of just the key fields, composite keys in order, after resuming', async () => {
      const fields = [field('grp', 'integer', { nullable: false }), field('name', 'text', { nullable: false }), field('v', 'integer')]
      const rows: Row[] = []
      for (const grp of [-5, 0, 2, 2 ** 40]) for (const name of ['b', 'A', '😀']) rows.push({ grp, name, v: rows.length })
      await seed(connector(), 'conf_key_only', fields, ['grp', 'name'], rows)
      const types = ['integer', 'text'] as const
      const expected = [...rows].sort((x, y) => compareKeys(types, [x.grp!, x.name!], [y.grp!, y.name!])).map((r) => ({ grp: r.grp, name: r.name }))
      // The fields in another order than the keys: each row still carries each value under its own name.
      const all = await scanAll(connector(), 'conf_key_only', { fields: ['name', 'grp'], keys: ['grp', 'name'], batchSize: 5 })
      expect(all.rows).toEqual(expected)
      const after = await scanAll(connector(), 'conf_key_only', { fields: ['grp', 'name'], keys: ['grp', 'name'], batchSize: 5, after: [0, 'b'] })
      expect(after.rows).toEqual(expected.slice(expected.findIndex((r) => r.grp === 0 && r.name === 'b') + 1))
    })

    it('a cursor scan returns every row once when 30 rows share a cursor value (batchSize 7)', async () => {
      const fields = [field('id', 'integer', { nullable: false }), field('updated_at', 'timestamp'), field('note', 'text')]
      await seed(connector(), 'conf_events', fields, ['id'], EVENTS)
      const { rows, batches } = await scanAll(connector(), 'conf_events', { fields: ['note'], keys: ['id'], cursor: { field: 'updated_at' }, batchSize: 7 })
      const ids = rows.map((r) => r.id)
      expect(new Set(ids).size).toBe(ids.length)
      const expected = EVENTS.filter((e) => e.updated_at !== null).sort((a, b) => compareKeys(['timestamp', 'integer'], [a.updated_at!, a.id!], [b.updated_at!, b.id!]))
      expect(rows.map((r) => [r.updated_at, r.id])).toEqual(expected.map((r) => [r.updated_at, r.id]))
      expect(batches.every((size) => size <= 7)).toBe(true)
    })

    it('a cursor scan resumes strictly after (value, key), or from value inclusive without a key', async () => {
      const fields = [field('id', 'integer', { nullable: false }), field('updated_at', 'timestamp'), field('note', 'text')]
      await seed(connector(), 'conf_events', fields, ['id'], EVENTS)
      const sameIds = EVENTS.filter((e) => e.updated_at === T1).map((e) => e.id as number).sort((a, b) => a - b)
      const lateIds = EVENTS.filter((e) => e.updated_at === T2).map((e) => e.id as number).sort((a, b) => a - b)
      const resumed = await scanAll(connector(), 'conf_events', { fields: [], keys: ['id'], cursor: { field: 'updated_at', from: { value: T1, key: [sameIds[9]!] } }, batchSize: 7 })
      expect(resumed.rows.map((r) => r.id)).toEqual([...sameIds.slice(10), ...lateIds])
      const lookBack = await scanAll(connector(), 'conf_events', { fields: [], keys: ['id'], cursor: { field: 'updated_at', from: { value: T1 } }, batchSize: 7 })
      expect(lookBack.rows.map((r) => r.id)).toEqual([...sameIds, ...lateIds])
    })

    it('rows with a NULL cursor are read with an is_null filter', async () => {
      const fields = [field('id', 'integer', { nullable: false }), field('updated_at', 'timestamp'), field('note', 'text')]
      await seed(connector(), 'conf_events', fields, ['id'], EVENTS)
      const { rows } = await scanAll(connector(), 'conf_events', { fields: ['note'], keys: ['id'], filters: [{ field: 'updated_at', op: 'is_null' }] })
      expect(rows.map((r) => r.id)).toEqual([300, 301])
    })

    it('count and scan agree with every filter operator', async () => {
      await seed(connector(), 'conf_items', ITEM_FIELDS, ['id'], ITEMS)
      for (const filters of FILTER_CASES) {
        const expected = ITEMS.filter((row) => filters.every((f) => matches(row, f))).map((r) => r.id)
        const { rows } = await scanAll(connector(), 'conf_items', { fields: ['name'], keys: ['id'], filters, batchSize: 3 })
        expect({ filters, ids: rows.map((r) => r.id) }).toEqual({ filters, ids: expected })
        const count = await connector().count('conf_items', filters)
        if (count !== undefined) expect({ filters, count }).toEqual({ filters, count: expected.length })
      }
    })

    it('filter values that look like SQL are only data', async () => {
      await seed(connector(), 'conf_items', ITEM_FIELDS, ['id'], ITEMS)
      const exact = await scanAll(connector(), 'conf_items', { fields: ['name'], keys: ['id'], filters: [{ field: 'name', op: '=', value: "'; DROP TABLE conf_items; --" }] })
      expect(exact.rows.map((r) => r.id)).toEqual([5])
      for (const value of ["' OR '1'='1", '1; DELETE FROM conf_items', '" OR ""="', '\\', "%' OR 1=1 --"]) {
        expect(await connector().count('conf_items', [{ field: 'name', op: '=', value }])).toBe(0)
        expect(await connector().count('conf_items', [{ field: 'name', op: 'in', value: [value] }])).toBe(0)
        // A backslash is LIKE's escape character on some databases and a plain character on others.
        if (!value.includes('\\')) expect(await connector().count('conf_items', [{ field: 'name', op: 'like', value }])).toBe(0)
      }
      expect(await connector().count('conf_items')).toBe(ITEMS.length)
    })

    it('lookup returns the rows with the given keys and skips missing ones', async () => {
      await seed(connector(), 'conf_items', ITEM_FIELDS, ['id'], ITEMS)
      const rows = await connector().lookup('conf_items', ['id'], [[4], [999], [1], [8]], ['name', 'price'])
      expect(rows.map((r) => [r.id, r.name]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([
        [1, 'apple'],
        [4, 'pear'],
        [8, 'banana'],
      ])
      await seed(connector(), 'conf_text_keys', textKeyed, ['k'], TEXT_KEYS.map((k, n) => ({ k, n })))
      const byText = await connector().lookup('conf_text_keys', ['k'], [['a'], ['A'], ['😀'], ['missing']], ['n'])
      expect(byText.map((r) => String(r.k)).sort(compareText)).toEqual(['A', 'a', '😀'])
    })

    it('aborting the signal stops a scan, and the connector keeps working', async () => {
      await seed(connector(), 'conf_items', ITEM_FIELDS, ['id'], ITEMS)
      const controller = new AbortController()
      const seen: Row[] = []
      const error = await rejection(
        (async () => {
          for await (const batch of connector().scan('conf_items', { fields: ['name'], keys: ['id'], batchSize: 2, signal: controller.signal })) {
            seen.push(...batch)
            controller.abort()
          }
        })(),
      )
      expect(error instanceof CancelledError || error.name === 'AbortError').toBe(true)
      expect(seen.length).toBe(2)
      const already = await rejection(scanAll(connector(), 'conf_items', { fields: ['name'], keys: ['id'], signal: controller.signal }))
      expect(already instanceof CancelledError || already.name === 'AbortError').toBe(true)
      expect(await connector().count('conf_items')).toBe(ITEMS.length)
      expect((await scanAll(connector(), 'conf_items', { fields: ['name'], keys: ['id'], batchSize: 3 })).rows).toHaveLength(ITEMS.length)
    })
  })
}
