/**
 * Conformance: check, discover and describe report what ensureEntity created;
 * a missing entity is ENTITY_NOT_FOUND with a suggestion; physicalIdentity
 * tells tables apart.
 */
import { describe, expect, it } from 'vitest'
import { NotFoundError } from '../../src/errors.js'
import type { Capabilities } from '../../src/connectors/connector.js'
import { field, findEntity, rejection, scanAll, seed, useOpened } from './fixtures.js'
import { HARNESSES } from './harnesses.js'

const PEOPLE = [
  field('id', 'integer', { nullable: false }),
  field('email', 'text', { nullable: false, maxLength: 120 }),
  field('nickname', 'text'),
  field('born', 'date'),
  field('score', 'float'),
  field('balance', 'decimal', { precision: 12, scale: 2 }),
  field('active', 'boolean', { nullable: false }),
  field('seen_at', 'timestamp'),
]

/** Every flag of {@link Capabilities}; each has a reader in src/engine/capabilities.ts (docs/connectors.md). */
const CAPABILITY_FLAGS = ['cdc', 'transactions', 'bulkExport', 'bulkLoad', 'orderedKeyScan', 'staging', 'rangeChecksum'] as const satisfies readonly (keyof Capabilities)[]

for (const harness of HARNESSES) {
  describe.skipIf(!(await harness.available()))(`${harness.kind}: discover`, () => {
    const opened = useOpened(harness)
    const connector = () => opened().connector

    it('check reports the kind, a version and capabilities', async () => {
      const report = await connector().check()
      expect(report.kind).toBe(harness.connectorKind ?? harness.kind)
      expect(report.connection).toBe('conformance')
      expect(report.version).toMatch(/\d/)
      expect(typeof report.cdc.ready).toBe('boolean')
    })

    it('declares exactly the capability flags the engine reads, each matching the methods it has', async () => {
      // The connector as the engine gets it: its flags decide, so they must not promise a missing method.
      const engineSide = opened().staged ?? connector()
      const caps = engineSide.capabilities
      expect(Object.keys(caps).sort()).toEqual([...CAPABILITY_FLAGS].sort())
      for (const flag of CAPABILITY_FLAGS) expect(typeof caps[flag], flag).toBe('boolean')
      expect((await engineSide.check()).capabilities).toEqual(caps)
      const formats = engineSide.bulkFormats ?? []
      expect({ bulkExport: caps.bulkExport, bulkLoad: caps.bulkLoad, staging: caps.staging, rangeChecksum: caps.rangeChecksum }).toEqual({
        bulkExport: typeof engineSide.bulkExport === 'function' && formats.length > 0,
        bulkLoad: typeof engineSide.bulkImport === 'function' && formats.length > 0,
        staging: typeof engineSide.commit === 'function' && typeof engineSide.rollback === 'function',
        rangeChecksum: typeof engineSide.rangeChecksum === 'function' && typeof engineSide.rangeHashes === 'function' && typeof engineSide.rangeSplit === 'function',
      })
      // md5 is the row hash every checksumming connector computes (src/values/row-checksum.ts).
      if (caps.rangeChecksum) expect(engineSide.checksumHashes ?? ['md5']).toContain('md5')
    })

    it('describe reports fields with their canonical types, nullability, limits and the primary key', async () => {
      await connector().ensureEntity('conf_people', PEOPLE, ['id'])
      const info = await connector().describe('conf_people')
      expect(info.primaryKey).toEqual(['id'])
      expect(info.fields.map((f) => f.name)).toEqual(PEOPLE.map((f) => f.name))
      for (const want of PEOPLE) {
        const got = info.fields.find((f) => f.name === want.name)!
        expect({ name: got.name, type: got.type, nullable: got.nullable }).toEqual({ name: want.name, type: want.type, nullable: want.nullable })
        expect(got.nativeType.length).toBeGreaterThan(0)
      }
      expect(info.fields.find((f) => f.name === 'email')!.maxLength).toBe(120)
      const balance = info.fields.find((f) => f.name === 'balance')!
      expect([balance.precision, balance.scale]).toEqual([12, 2])
    })

    it('discover lists the entity, and discover(name) describes just it', async () => {
      await connector().ensureEntity('conf_people', PEOPLE, ['id'])
      const all = await connector().discover()
      const listed = findEntity(all, 'conf_people')
      expect(listed).toBeDefined()
      const one = await connector().discover('conf_people')
      expect(one).toHaveLength(1)
      expect(one[0]!.fields.map((f) => f.type)).toEqual(PEOPLE.map((f) => f.type))
      // The listed name is one a plan can use.
      expect((await connector().describe(listed!.name)).primaryKey).toEqual(['id'])
    })

    it('discover of an entity that does not exist is empty', async () => {
      expect(await connector().discover('conf_no_such_entity')).toEqual([])
    })

    it('a composite primary key keeps its order', async () => {
      await connector().ensureEntity('conf_lines', [field('line', 'integer', { nullable: false }), field('order_no', 'text', { nullable: false }), field('qty', 'integer')], ['order_no', 'line'])
      expect((await connector().describe('conf_lines')).primaryKey).toEqual(['order_no', 'line'])
    })

    it('ensureEntity on an existing entity changes nothing and keeps its rows', async () => {
      await seed(connector(), 'conf_keep', [field('id', 'integer', { nullable: false }), field('v', 'text')], ['id'], [{ id: 1, v: 'kept' }])
      await connector().ensureEntity('conf_keep', [field('id', 'integer', { nullable: false }), field('v', 'text')], ['id'])
      const { rows } = await scanAll(connector(), 'conf_keep', { fields: ['v'], keys: ['id'] })
      expect(rows).toEqual([{ id: 1, v: 'kept' }])
    })

    it('identifiers with quotes, spaces and mixed case are kept exactly', async () => {
      const fields = [field('Key Col', 'integer', { nullable: false }), field('quote"d', 'text'), field("it's", 'text'), field('MixedCase', 'integer'), field('semi;colon -- x', 'text')]
      await connector().ensureEntity('Odd "Table" Name', fields, ['Key Col'])
      const info = await connector().describe('Odd "Table" Name')
      expect(info.fields.map((f) => f.name)).toEqual(fields.map((f) => f.name))
      expect(info.primaryKey).toEqual(['Key Col'])
      expect(findEntity(await connector().discover(), 'Odd "Table" Name')).toBeDefined()
    })

    it('physicalIdentity: one key per table, whatever name reaches it; another table differs; a missing one has none', async () => {
      await connector().ensureEntity('conf_people', PEOPLE, ['id'])
      await connector().ensureEntity('conf_keep', [field('id', 'integer', { nullable: false }), field('v', 'text')], ['id'])
      const identity = (entity: string) => connector().physicalIdentity!(entity)
      const people = await identity('conf_people')
      expect(people?.key).toEqual(expect.any(String))
      expect(people?.label).toContain('conf_people')
      // The name discover lists (e.g. public.conf_people) is the same table.
      expect((await identity(findEntity(await connector().discover(), 'conf_people')!.name))?.key).toBe(people!.key)
      expect((await identity('conf_keep'))?.key).not.toBe(people!.key)
      expect(await identity('conf_no_such_entity')).toBeUndefined()
    })

    it('describe of a missing entity is ENTITY_NOT_FOUND naming the closest one', async () => {
      await connector().ensureEntity('conf_people', PEOPLE, ['id'])
      const error = await rejection(connector().describe('conf_peple'))
      expect(error).toBeInstanceOf(NotFoundError)
      expect(error.code).toBe('ENTITY_NOT_FOUND')
      expect(error.failure).toBe('config')
      expect(error.message).toContain('conf_peple')
      expect(error.message).toMatch(/Did you mean '([a-z]+\.)?conf_people'/)
    })
  })
}
