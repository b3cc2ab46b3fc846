/**
 * The order of a run's syncs and which of them write with foreign key
 * checks off: parents first, cycles (and tables referencing themselves)
 * found by Tarjan's algorithm, and the plan's `foreignKeys` setting.
 */
import { describe, expect, it } from 'vitest'
import { explainForeignKeys, planForeignKeys, stronglyConnected, type ForeignKeyNode } from '../../src/engine/foreign-key-plan.js'

const table = (name: string, parents: string[] = [], foreignKeys?: ForeignKeyNode['foreignKeys'], connection = 'dst'): ForeignKeyNode => ({
  destination: { name: connection },
  destinationEntity: { name, fields: [], primaryKey: ['id'], uniqueKeys: [], foreignKeys: parents.map((p) => ({ fields: [`${p}_id`], references: { entity: p, fields: ['id'] } })) },
  ...(foreignKeys ? { foreignKeys } : {}),
})

describe('planForeignKeys', () => {
  it('orders a chain parents first and defers nothing', () => {
    const plan = planForeignKeys([table('tracks', ['albums']), table('albums', ['artists']), table('artists')])
    expect(plan).toEqual({ order: [2, 1, 0], linked: true, deferred: new Set(), cycles: [] })
  })

  it('defers a two-table cycle and a self-reference, after the parents they need', () => {
    // employees → departments → employees, employees → employees, both → companies.
    const plan = planForeignKeys([table('employees', ['departments', 'employees', 'companies']), table('departments', ['employees', 'companies']), table('companies'), table('audit', ['employees'])])
    expect(plan.order).toEqual([2, 0, 1, 3])
    expect(plan.cycles).toEqual([[0, 1]])
    expect([...plan.deferred].sort()).toEqual([0, 1])
  })

  it('treats a table referencing itself alone as a cycle of one', () => {
    const plan = planForeignKeys([table('staff', ['staff'])])
    expect(plan).toMatchObject({ order: [0], linked: false, cycles: [[0]] })
    expect([...plan.deferred]).toEqual([0])
  })

  it('follows foreignKeys: check never defers, defer always does, and other connections never link', () => {
    const plan = planForeignKeys([table('a', ['b'], 'check'), table('b', ['a']), table('c', ['x'], 'defer'), table('d'), table('b', ['a'], 'auto', 'other')])
    expect([...plan.deferred].sort()).toEqual([1, 2])
    expect(plan.cycles).toEqual([[0, 1]])
  })

  it('finds components of a long chain without recursion', () => {
    const successors = Array.from({ length: 50_000 }, (_, i) => new Set(i + 1 < 50_000 ? [i + 1] : [0]))
    expect(stronglyConnected(successors)).toHaveLength(1)
  })
})

describe('explainForeignKeys', () => {
  it('names the order, the cycle, its keys and how the checks go off', () => {
    const lines = explainForeignKeys([
      { ...table('employees', ['departments']), id: 'emp', checksOff: 'SET SESSION foreign_key_checks = 0' },
      { ...table('departments', ['employees']), id: 'dept', checksOff: 'SET SESSION foreign_key_checks = 0' },
    ])
    expect(lines[0]).toMatch(/parents first \(emp, dept\)/)
    expect(lines[1]).toMatch(/emp, dept: a foreign key cycle \(employees \(departments_id\) → departments; departments \(employees_id\) → employees\)/)
    expect(lines[1]).toMatch(/dst's foreign key checks off for syncline's own session only \(SET SESSION foreign_key_checks = 0\)/)
    expect(explainForeignKeys([{ ...table('a'), id: 'a' }])).toEqual([])
  })
})
