/**
 * Which source fields count as gone since the last run: renamed or dropped
 * while their destination field still waits for them, and not fed again by
 * the plan as it is now.
 */
import { describe, expect, it } from 'vitest'
import { addedFields, checkSchemaDrift, driftPolicyOf, resolveSchemaDrift, vanishedFields } from '../../src/engine/schema-drift.js'
import { syncSchema, type SyncPlanInput } from '../../src/plan/schema.js'
import type { SyncFacts } from '../../src/state/state-store.js'
import { entity, field } from '../mapping/entities.js'

const plan = (extra: Partial<SyncPlanInput> = {}) =>
  syncSchema.parse({ id: 'items', source: { connection: 'shop', entity: 'items' }, destination: { connection: 'backup', entity: 'items' }, ...extra })

const facts: SyncFacts = {
  source: { connection: 'shop', entity: 'items' },
  destination: { connection: 'backup', entity: 'items' },
  destinationRows: 2,
  mappedFields: [
    { source: 'id', destination: 'id' },
    { source: 'name', destination: 'name' },
  ],
  sourceFields: ['id', 'name'],
  updatedAt: '2026-01-01T00:00:00Z',
}
const destination = entity('items', [field('id', 'integer'), field('name', 'text')], ['id'])
const renamed = entity('items', [field('id', 'integer'), field('title', 'text')], ['id'])

describe('schema drift', () => {
  it('finds a mapped source field that was renamed, and names it, the entities and the fix', () => {
    expect(vanishedFields(plan(), facts, renamed, destination)).toEqual([{ source: 'name', destination: 'name' }])
    expect(() => checkSchemaDrift(plan(), facts, renamed, destination)).toThrow(
      expect.objectContaining({ code: 'SCHEMA_DRIFT', failure: 'config', message: expect.stringContaining("source field 'name' is gone from shop.items") }),
    )
    expect(() => checkSchemaDrift(plan(), facts, renamed, destination)).toThrow(/\{ source: title, destination: name \}/)
  })

  it('is quiet once the plan maps the destination field again, or the destination dropped it too', () => {
    const mapped = plan({ mapping: { fields: [{ source: 'title', destination: 'name' }] } })
    expect(vanishedFields(mapped, facts, renamed, destination)).toEqual([])
    expect(vanishedFields(plan(), facts, renamed, entity('items', [field('id', 'integer'), field('title', 'text')], ['id']))).toEqual([])
    // A destination that no longer exists cannot go stale.
    expect(vanishedFields(plan(), facts, renamed, undefined)).toEqual([])
  })

  it('is quiet when auto-map still finds the field (renamed by case only)', () => {
    const byCase = entity('items', [field('id', 'integer'), field('Name', 'text')], ['id'])
    expect(vanishedFields(plan(), facts, byCase, destination)).toEqual([])
    // With auto-map off only the explicit fields count: the plan, not the source, stopped mapping it.
    const explicitOnly = plan({ mapping: { auto: false, fields: [{ source: 'id', destination: 'id' }] } })
    expect(vanishedFields(explicitOnly, facts, renamed, destination)).toEqual([])
    const stillNamed = plan({ mapping: { auto: false, fields: [{ source: 'id', destination: 'id' }, { source: 'name', destination: 'name' }] } })
    expect(vanishedFields(stillNamed, facts, renamed, destination)).toEqual([{ source: 'name', destination: 'name' }])
  })

  it('still fails when an explicit field names the vanished source', () => {
    const explicit = plan({ mapping: { fields: [{ source: 'name', destination: 'name' }] } })
    expect(vanishedFields(explicit, facts, renamed, destination)).toEqual([{ source: 'name', destination: 'name' }])
  })

  it('ignores facts about another source entity, and having no facts', () => {
    const other = plan({ source: { connection: 'shop', entity: 'products' } })
    expect(vanishedFields(other, facts, renamed, destination)).toEqual([])
    expect(vanishedFields(plan(), undefined, renamed, destination)).toEqual([])
  })

  describe('the drift policy', () => {
    const grown = entity('items', [field('id', 'integer'), field('name', 'text'), field('extra', 'text')], ['id'])
    const resolve = (p: ReturnType<typeof plan>, f: SyncFacts = facts, canAddFields = true) =>
      resolveSchemaDrift(p, f, grown, destination, { createdNow: false, canAddFields, dryRun: false })

    it('defaults to evolve for a destination syncline created, fail otherwise; the plan decides when it says', () => {
      expect(driftPolicyOf(plan(), facts, false)).toBe('fail')
      expect(driftPolicyOf(plan(), { ...facts, destinationCreated: true }, false)).toBe('evolve')
      expect(driftPolicyOf(plan(), undefined, true)).toBe('evolve')
      // Facts about another destination say nothing about this one.
      expect(driftPolicyOf(plan({ destination: { connection: 'backup', entity: 'other' } }), { ...facts, destinationCreated: true }, false)).toBe('fail')
      expect(driftPolicyOf(plan({ schema: 'ignore' }), { ...facts, destinationCreated: true }, true)).toBe('ignore')
    })

    it('counts a new source field as added only with auto-map, when not excluded and not at the destination', () => {
      expect(addedFields(plan(), facts, grown, destination).map((f) => f.name)).toEqual(['extra'])
      expect(addedFields(plan({ mapping: { exclude: ['extra'] } }), facts, grown, destination)).toEqual([])
      expect(addedFields(plan({ mapping: { auto: false, fields: [{ source: 'id', destination: 'id' }] } }), facts, grown, destination)).toEqual([])
      const there = entity('items', [field('id', 'integer'), field('name', 'text'), field('Extra', 'text')], ['id'])
      expect(addedFields(plan(), facts, grown, there)).toEqual([])
    })

    it('adds a new field as nullable under evolve, notes it under ignore, and fails under fail', () => {
      expect(resolve(plan({ schema: 'evolve' })).addFields).toEqual([{ ...field('extra', 'text'), nullable: true }])
      expect(resolve(plan({ schema: 'ignore' }))).toMatchObject({ addFields: [], notes: [expect.stringContaining("'extra' of shop.items left out")] })
      expect(() => resolve(plan({ schema: 'fail' }))).toThrow(expect.objectContaining({ code: 'SCHEMA_DRIFT', message: expect.stringContaining('`schema: ignore`') }))
      // A destination that cannot grow fields asks for ignore.
      expect(() => resolve(plan({ schema: 'evolve' }), facts, false)).toThrow(/cannot have fields added by syncline.*`schema: ignore`/)
    })
  })
})
