import { describe, expect, it } from 'vitest'
import type { Filter } from '../../src/connectors/connector.js'
import { PlanError } from '../../src/errors.js'
import { matchesFilters, resolveFilters } from '../../src/mapping/filters.js'
import type { FilterPlan } from '../../src/plan/schema.js'
import type { Row } from '../../src/values/canonical.js'
import { entity, field, typesOf } from './entities.js'

const orders = entity(
  'Orders',
  [
    field('OrderId', 'integer'),
    field('Status', 'text'),
    field('Total', 'decimal'),
    field('Weight', 'float'),
    field('Paid', 'boolean'),
    field('CreatedAt', 'timestamp'),
    field('ShipDate', 'date'),
    field('ShipTime', 'time'),
    field('Ref', 'uuid'),
    field('Meta', 'json'),
    field('Scan', 'bytes'),
  ],
  ['OrderId'],
)
const types = typesOf(orders)

function planError(filters: FilterPlan[]): PlanError {
  try {
    resolveFilters(filters, orders)
  } catch (error) {
    expect(error).toBeInstanceOf(PlanError)
    return error as PlanError
  }
  throw new Error('expected a PlanError')
}

describe('resolveFilters', () => {
  it("converts YAML values to canonical values of the field's type", () => {
    const filters = resolveFilters(
      [
        { field: 'CreatedAt', op: '>=', value: '2024-01-01' },
        { field: 'CreatedAt', op: '<', value: '2024-01-01 12:00:00+02:00' },
        { field: 'OrderId', op: 'in', value: ['7', 8, '9007199254740993'] },
        { field: 'Total', op: '>', value: 10.5 },
        { field: 'Paid', op: '=', value: 'true' },
        { field: 'Status', op: 'like', value: 'Act%' },
        { field: 'Status', op: '=', value: 42 },
        { field: 'ShipDate', op: '=', value: '2024-3-7' },
        { field: 'ShipTime', op: '<', value: '9:30' },
        { field: 'Ref', op: '=', value: '0B7F6C1E-8A4D-4F4E-9D6A-2F1C3B5A7E90' },
        { field: 'Meta', op: '=', value: '{"b":1, "a":2}' },
        { field: 'Status', op: 'is_null' },
      ],
      orders,
    )
    expect(filters).toEqual<Filter[]>([
      { field: 'CreatedAt', op: '>=', value: '2024-01-01T00:00:00.000000Z' },
      { field: 'CreatedAt', op: '<', value: '2024-01-01T10:00:00.000000Z' },
      { field: 'OrderId', op: 'in', value: [7, 8, 9007199254740993n] },
      { field: 'Total', op: '>', value: '10.5' },
      { field: 'Paid', op: '=', value: true },
      { field: 'Status', op: 'like', value: 'Act%' },
      { field: 'Status', op: '=', value: '42' },
      { field: 'ShipDate', op: '=', value: '2024-03-07' },
      { field: 'ShipTime', op: '<', value: '09:30:00' },
      { field: 'Ref', op: '=', value: '0b7f6c1e-8a4d-4f4e-9d6a-2f1c3b5a7e90' },
      { field: 'Meta', op: '=', value: '{"a":2,"b":1}' },
      { field: 'Status', op: 'is_null' },
    ])
  })

  it('lists every problem with its path', () => {
    const error = planError([
      { field: 'Stauts', op: '=', value: 'Active' },
      { field: 'OrderId', op: '=', value: 'abc' },
      { field: 'CreatedAt', op: '>', value: 'yesterday' },
      { field: 'OrderId', op: '=', value: 12.5 },
      { field: 'Status', op: '=', value: null },
      { field: 'Status', op: 'not_in', value: ['a', null] },
      { field: 'OrderId', op: 'like', value: '1%' },
      { field: 'OrderId', op: '=', value: Number('9007199254740993') }, // what YAML makes of an unquoted big number
      { field: 'Scan', op: '=', value: 'x' },
    ])
    expect(error.issues.map((i) => i.path)).toEqual([
      'filters[0].field',
      'filters[1].value',
      'filters[2].value',
      'filters[3].value',
      'filters[4].value',
      'filters[5].value',
      'filters[6].op',
      'filters[7].value',
      'filters[8].op',
    ])
    const messages = error.issues.map((i) => i.message)
    expect(messages[0]).toBe("unknown field 'Stauts' in Orders. Did you mean 'Status'?")
    expect(messages[1]).toBe("'abc' cannot be compared with 'OrderId' (integer): it is not a number; write it like 42")
    expect(messages[2]).toContain("'yesterday' cannot be compared with 'CreatedAt' (timestamp)")
    expect(messages[2]).toContain("write it like '2024-01-01' or '2024-01-01T12:00:00Z'")
    expect(messages[3]).toContain('it has a fraction')
    expect(messages[4]).toContain('use op: is_null')
    expect(messages[5]).toContain('makes it match nothing')
    expect(messages[6]).toContain('like needs a text field')
    expect(messages[7]).toContain("put it in quotes, e.g. '9007199254740992'")
    expect(messages[8]).toContain('is_null or is_not_null')
  })
})

describe('matchesFilters', () => {
  const match = (row: Row, filters: Filter[]) => matchesFilters(row, filters, types)

  it('compares by type: numbers exactly, decimals by value, timestamps in time order', () => {
    expect(match({ Total: '10.50' }, [{ field: 'Total', op: '=', value: '10.5' }])).toBe(true)
    expect(match({ Total: '9.99' }, [{ field: 'Total', op: '<', value: '10' }])).toBe(true)
    expect(match({ Total: '100' }, [{ field: 'Total', op: '>', value: '99.5' }])).toBe(true)
    expect(match({ OrderId: 9007199254740993n }, [{ field: 'OrderId', op: '>', value: 9007199254740992 }])).toBe(true)
    expect(match({ OrderId: 10 }, [{ field: 'OrderId', op: '>=', value: 9 }])).toBe(true)
    expect(match({ CreatedAt: '2024-01-01T00:00:00.000001Z' }, [{ field: 'CreatedAt', op: '>', value: '2024-01-01T00:00:00.000000Z' }])).toBe(true)
    expect(match({ Status: 'b' }, [{ field: 'Status', op: '!=', value: 'a' }])).toBe(true)
  })

  it('orders text by code point (binary collation), not by UTF-16 units', () => {
    // U+FF5E sorts below U+1F600 in UTF-8 byte order, above it in UTF-16 code units.
    expect(match({ Status: '\uff5e' }, [{ field: 'Status', op: '<', value: '😀' }])).toBe(true)
    expect(match({ Status: 'B' }, [{ field: 'Status', op: '<', value: 'a' }])).toBe(true)
  })

  it('never matches NULL with a comparison, in or like', () => {
    for (const op of ['=', '!=', '>', '>=', '<', '<=', 'like'] as const) {
      expect(match({ Status: null }, [{ field: 'Status', op, value: 'a' }])).toBe(false)
    }
    expect(match({ Status: null }, [{ field: 'Status', op: 'in', value: ['a', null] }])).toBe(false)
    expect(match({ Status: null }, [{ field: 'Status', op: 'not_in', value: ['a'] }])).toBe(false)
    expect(match({}, [{ field: 'Status', op: '=', value: 'a' }])).toBe(false)
  })

  it('matches NULL with is_null, and not with is_not_null', () => {
    expect(match({ Status: null }, [{ field: 'Status', op: 'is_null' }])).toBe(true)
    expect(match({}, [{ field: 'Status', op: 'is_null' }])).toBe(true)
    expect(match({ Status: '' }, [{ field: 'Status', op: 'is_null' }])).toBe(false)
    expect(match({ Status: '' }, [{ field: 'Status', op: 'is_not_null' }])).toBe(true)
  })

  it('treats in and not_in as SQL does, NULLs and empty lists included', () => {
    expect(match({ OrderId: 8 }, [{ field: 'OrderId', op: 'in', value: [7, 8] }])).toBe(true)
    expect(match({ OrderId: 8 }, [{ field: 'OrderId', op: 'in', value: [7, null] }])).toBe(false)
    expect(match({ OrderId: 8 }, [{ field: 'OrderId', op: 'not_in', value: [7] }])).toBe(true)
    // x NOT IN (7, NULL) is never true.
    expect(match({ OrderId: 8 }, [{ field: 'OrderId', op: 'not_in', value: [7, null] }])).toBe(false)
    expect(match({ OrderId: 8 }, [{ field: 'OrderId', op: 'in', value: [] }])).toBe(false)
    expect(match({ OrderId: 8 }, [{ field: 'OrderId', op: 'not_in', value: [] }])).toBe(true)
    expect(match({ Total: '1.0' }, [{ field: 'Total', op: 'in', value: ['1', '2'] }])).toBe(true)
  })

  it('matches like with % and _ by code point, case-sensitively, with \\ escapes', () => {
    const like = (value: string, pattern: string) => match({ Status: value }, [{ field: 'Status', op: 'like', value: pattern }])
    expect(like('Active', 'Act%')).toBe(true)
    expect(like('Active', 'act%')).toBe(false)
    expect(like('Active', '%tiv_')).toBe(true)
    expect(like('A😀b', 'A_b')).toBe(true)
    expect(like('Ab', 'A_b')).toBe(false)
    expect(like('a.c', 'a.c')).toBe(true)
    expect(like('abc', 'a.c')).toBe(false)
    expect(like('100%', '100\\%')).toBe(true)
    expect(like('1000', '100\\%')).toBe(false)
    expect(like('line1\nline2', 'line1%')).toBe(true)
    expect(like('(x)[y]', '(x)[y]')).toBe(true)
  })

  it('treats NaN as equal to itself and above every float, as PostgreSQL does', () => {
    expect(match({ Weight: NaN }, [{ field: 'Weight', op: '=', value: NaN }])).toBe(true)
    expect(match({ Weight: NaN }, [{ field: 'Weight', op: '>', value: 1e308 }])).toBe(true)
    expect(match({ Weight: 1 }, [{ field: 'Weight', op: '<', value: NaN }])).toBe(true)
  })

  it('requires every filter to match', () => {
    const filters: Filter[] = [
      { field: 'Status', op: '=', value: 'Active' },
      { field: 'Total', op: '>', value: '10' },
    ]
    expect(match({ Status: 'Active', Total: '11' }, filters)).toBe(true)
    expect(match({ Status: 'Active', Total: '9' }, filters)).toBe(false)
    expect(match({ Status: 'Active' }, [])).toBe(true)
  })

  it('agrees with resolveFilters: a resolved timestamp filter selects the right rows', () => {
    const filters = resolveFilters([{ field: 'CreatedAt', op: '>=', value: '2024-01-01' }], orders)
    expect(match({ CreatedAt: '2023-12-31T23:59:59.999999Z' }, filters)).toBe(false)
    expect(match({ CreatedAt: '2024-01-01T00:00:00.000000Z' }, filters)).toBe(true)
  })
})
