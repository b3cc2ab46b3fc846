/**
 * Conformance: a value beyond what its destination field declares (text
 * longer than its maxLength, a decimal with more digits than its precision,
 * an integer outside its width) is rejected by every connector with the same
 * code and a message in the same words, naming the field, the limit and the
 * value's size: one checker (mapping/field-constraints.ts) phrases them all.
 */
import { describe, expect, it } from 'vitest'
import { RecordError } from '../../src/errors.js'
import type { Row } from '../../src/values/canonical.js'
import { field, rejection, seed, useConnector } from './fixtures.js'
import { HARNESSES } from './harnesses.js'

const FIELDS = [
  field('id', 'integer', { nullable: false }),
  field('name', 'text', { maxLength: 10 }),
  field('price', 'decimal', { precision: 6, scale: 2 }),
]

const good: Row = { id: 2, name: 'ok', price: '1.50' }

for (const harness of HARNESSES) {
  describe.skipIf(!(await harness.available()))(`${harness.kind}: value limits`, () => {
    const connector = useConnector(harness)

    const rejected = async (entity: string, row: Row) => {
      await seed(connector(), entity, FIELDS, ['id'], [{ id: 1, name: 'first', price: '0.00' }])
      const error = (await rejection(connector().apply(entity, { upserts: [good, row], deletes: [] }, { keys: ['id'] }))) as RecordError
      expect(error).toBeInstanceOf(RecordError)
      expect(error.code).toBe('VALUE_REJECTED')
      expect(error.failure).toBe('data')
      // Nothing of the batch landed.
      expect(await connector().count(entity)).toBe(1)
      return error
    }

    it('text longer than its maxLength: the field, its length in characters and the limit, in the same words', async () => {
      const error = await rejected('conf_limit_text', { id: 3, name: '😀'.repeat(12) })
      expect(error.message).toMatch(/\bname: value of 12 characters is longer than \S.* allows \(10\)/)
      expect(error.details?.field).toBe('name')
    })

    it('a decimal with more digits before the point than its precision leaves: the field, the digits and the limit', async () => {
      const error = await rejected('conf_limit_decimal', { id: 3, price: '12345.5' })
      expect(error.message).toMatch(/\bprice: 12345\.5 has 5 digits before the decimal point; \S.* allows 4/)
      expect(error.details?.field).toBe('price')
    })
  })
}
