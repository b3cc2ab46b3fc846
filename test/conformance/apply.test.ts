/**
 * Conformance: apply is idempotent, deletes what it is told to, and rejects
 * bad records as RecordErrors that roll the whole batch back and leave the
 * connector usable (the engine then splits the batch to isolate the record).
 */
import { describe, expect, it } from 'vitest'
import { RecordError } from '../../src/errors.js'
import type { Row } from '../../src/values/canonical.js'
import { expectRows, field, rejection, scanAll, seed, useConnector } from './fixtures.js'
import { HARNESSES } from './harnesses.js'

const FIELDS = [
  field('id', 'integer', { nullable: false }),
  field('name', 'text', { nullable: false, maxLength: 255 }),
  field('qty', 'integer'),
  field('price', 'decimal', { precision: 12, scale: 2 }),
  field('seen_at', 'timestamp'),
]

const rowsOf = (count: number, version = 1): Row[] =>
  Array.from({ length: count }, (_, i) => ({ id: i + 1, name: `item ${i + 1} v${version}`, qty: i * version, price: `${i}.${version}0`, seen_at: '2026-11-21T10:00:00.123456Z' }))

for (const harness of HARNESSES) {
  describe.skipIf(!(await harness.available()))(`${harness.kind}: apply`, () => {
    const connector = useConnector(harness)
    const read = async (entity: string) => (await scanAll(connector(), entity, { fields: FIELDS.map((f) => f.name), keys: ['id'], batchSize: 17 })).rows

    it('applying the same batch twice leaves the same rows', async () => {
      await connector().ensureEntity('conf_idem', FIELDS, ['id'])
      const rows = rowsOf(50)
      const first = await connector().apply('conf_idem', { upserts: rows, deletes: [] }, { keys: ['id'], allNew: true })
      expect(first.upserted).toBe(50)
      await connector().apply('conf_idem', { upserts: rows, deletes: [] }, { keys: ['id'], allNew: true })
      expectRows(FIELDS, await read('conf_idem'), rows)
      expect(await connector().count('conf_idem')).toBe(50)
    })

    it('upserts update existing rows and insert new ones', async () => {
      await seed(connector(), 'conf_update', FIELDS, ['id'], rowsOf(10))
      const changed = rowsOf(15, 2).slice(5)
      await connector().apply('conf_update', { upserts: changed, deletes: [] }, { keys: ['id'] })
      expectRows(FIELDS, await read('conf_update'), [...rowsOf(10).slice(0, 5), ...changed])
    })

    it('deletes remove exactly the given keys; a missing key is no error', async () => {
      await seed(connector(), 'conf_delete', FIELDS, ['id'], rowsOf(10))
      const result = await connector().apply('conf_delete', { upserts: [], deletes: [[2], [5], [999]] }, { keys: ['id'] })
      expect(result.deleted).toBe(2)
      expect((await read('conf_delete')).map((r) => r.id)).toEqual([1, 3, 4, 6, 7, 8, 9, 10])
      // Deleting again is idempotent.
      expect((await connector().apply('conf_delete', { upserts: [], deletes: [[2], [5]] }, { keys: ['id'] })).deleted).toBe(0)
    })

    it('deletes and upserts of one batch land together', async () => {
      await seed(connector(), 'conf_mixed', FIELDS, ['id'], rowsOf(3))
      await connector().apply('conf_mixed', { upserts: [{ ...rowsOf(3)[0]!, name: 'renamed' }, rowsOf(4)[3]!], deletes: [[2]] }, { keys: ['id'] })
      expect((await read('conf_mixed')).map((r) => [r.id, r.name])).toEqual([
        [1, 'renamed'],
        [3, 'item 3 v1'],
        [4, 'item 4 v1'],
      ])
    })

    it('a row violating NOT NULL is a RecordError and the batch is rolled back whole', async () => {
      await seed(connector(), 'conf_notnull', FIELDS, ['id'], rowsOf(2))
      const before = await read('conf_notnull')
      const batch = { upserts: [{ ...rowsOf(2)[0]!, name: 'changed' }, rowsOf(3)[2]!, { ...rowsOf(4)[3]!, name: null }], deletes: [[2]] }
      const error = await rejection(connector().apply('conf_notnull', batch, { keys: ['id'] }))
      expect(error).toBeInstanceOf(RecordError)
      expect(error.code).toBe('VALUE_REJECTED')
      expect(error.failure).toBe('data')
      expect(error.message).toContain('name')
      expectRows(FIELDS, await read('conf_notnull'), before)
      // The connector is still usable, and the good records alone apply.
      await connector().apply('conf_notnull', { upserts: batch.upserts.slice(0, 2), deletes: batch.deletes }, { keys: ['id'] })
      expect((await read('conf_notnull')).map((r) => [r.id, r.name])).toEqual([
        [1, 'changed'],
        [3, 'item 3 v1'],
      ])
    })

    it('a record whose key field is absent or null is KEY_MISSING, the same code in every connector', async () => {
      await seed(connector(), 'conf_nokey', FIELDS, ['id'], rowsOf(2))
      const { id: _absent, ...keyless } = rowsOf(3)[2]!
      for (const bad of [keyless, { ...rowsOf(3)[2]!, id: null }]) {
        const error = await rejection(connector().apply('conf_nokey', { upserts: [rowsOf(2)[0]!, bad], deletes: [] }, { keys: ['id'] }))
        expect(error).toBeInstanceOf(RecordError)
        expect(error.code).toBe('KEY_MISSING')
        expect(error.failure).toBe('data')
        expect(error.message).toContain('key field')
        expect(error.message).toContain('id')
      }
      expect(await connector().count('conf_nokey')).toBe(2)
    })

    it('text over a maxLength of 255 is a RecordError naming the field and the limit', async () => {
      await seed(connector(), 'conf_length', FIELDS, ['id'], rowsOf(1))
      const error = await rejection(connector().apply('conf_length', { upserts: [{ ...rowsOf(2)[1]!, name: 'x'.repeat(300) }], deletes: [] }, { keys: ['id'] }))
      expect(error).toBeInstanceOf(RecordError)
      expect(error.code).toBe('VALUE_REJECTED')
      expect(error.message).toContain('name')
      expect(error.message).toContain('255')
      expect(await connector().count('conf_length')).toBe(1)
      // Exactly 255 characters, astral ones included, fit.
      await connector().apply('conf_length', { upserts: [{ ...rowsOf(2)[1]!, name: '😀'.repeat(255) }], deletes: [] }, { keys: ['id'] })
      expect(await connector().count('conf_length')).toBe(2)
    })

    it('entities and fields named with quotes, spaces and mixed case can be written, read, filtered and deleted', async () => {
      const entity = 'Odd "Apply" Name'
      const fields = [field('Key Col', 'integer', { nullable: false }), field('quote"d', 'text'), field("it's", 'text'), field('MixedCase', 'integer')]
      const rows: Row[] = [
        { 'Key Col': 1, 'quote"d': 'a"b', "it's": "it's", MixedCase: 10 },
        { 'Key Col': 2, 'quote"d': 'c', "it's": 'd', MixedCase: 20 },
        { 'Key Col': 3, 'quote"d': null, "it's": null, MixedCase: 30 },
      ]
      await seed(connector(), entity, fields, ['Key Col'], rows)
      const names = fields.slice(1).map((f) => f.name)
      expectRows(fields, (await scanAll(connector(), entity, { fields: names, keys: ['Key Col'], batchSize: 2 })).rows, rows)
      const filtered = await scanAll(connector(), entity, { fields: names, keys: ['Key Col'], filters: [{ field: 'MixedCase', op: '>=', value: 20 }, { field: 'quote"d', op: 'is_not_null' }] })
      expect(filtered.rows.map((r) => r['Key Col'])).toEqual([2])
      expect((await connector().lookup(entity, ['Key Col'], [[3]], names)).map((r) => r.MixedCase)).toEqual([30])
      await connector().apply(entity, { upserts: [{ ...rows[0]!, "it's": 'changed' }], deletes: [[2]] }, { keys: ['Key Col'] })
      const after = (await scanAll(connector(), entity, { fields: names, keys: ['Key Col'] })).rows
      expect(after.map((r) => [r['Key Col'], r["it's"]])).toEqual([
        [1, 'changed'],
        [3, null],
      ])
    })

    it('composite keys identify rows for upserts and deletes', async () => {
      const fields = [field('tenant', 'text', { nullable: false }), field('id', 'integer', { nullable: false }), field('v', 'text')]
      await seed(connector(), 'conf_composite_apply', fields, ['tenant', 'id'], [
        { tenant: 'a', id: 1, v: 'a1' },
        { tenant: 'b', id: 1, v: 'b1' },
        { tenant: 'A', id: 1, v: 'A1' },
      ])
      await connector().apply('conf_composite_apply', { upserts: [{ tenant: 'b', id: 1, v: 'b1*' }], deletes: [['a', 1]] }, { keys: ['tenant', 'id'] })
      const { rows } = await scanAll(connector(), 'conf_composite_apply', { fields: ['v'], keys: ['tenant', 'id'] })
      expect(rows.map((r) => r.v)).toEqual(['A1', 'b1*'])
    })
  })
}
