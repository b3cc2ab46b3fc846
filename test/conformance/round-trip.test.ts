/**
 * Conformance: every canonical type, at its edges, is written and read back
 * equal (valuesEqual) and in its canonical JavaScript representation.
 */
import { describe, expect, it } from 'vitest'
import { EVERY_TYPE_FIELDS as FIELDS, EVERY_TYPE_ROWS as ROWS } from './every-type.js'
import { expectRows, field, scanAll, seed, useConnector } from './fixtures.js'
import { HARNESSES } from './harnesses.js'

for (const harness of HARNESSES) {
  describe.skipIf(!(await harness.available()))(`${harness.kind}: round trip`, () => {
    const connector = useConnector(harness)
    const names = FIELDS.map((f) => f.name).filter((n) => n !== 'id')

    it('every canonical type comes back equal, edge values and NULLs included', async () => {
      await seed(connector(), 'conf_types', FIELDS, ['id'], ROWS)
      const { rows } = await scanAll(connector(), 'conf_types', { fields: names, keys: ['id'], batchSize: 2 })
      expectRows(FIELDS, rows, ROWS)
    })

    it('values come back in their canonical representation', async () => {
      await seed(connector(), 'conf_types', FIELDS, ['id'], ROWS)
      const { rows } = await scanAll(connector(), 'conf_types', { fields: names, keys: ['id'] })
      const byId = new Map(rows.map((r) => [r.id, r]))
      // Integers: a number within 2^53, a bigint beyond, never rounded.
      expect(byId.get(2)!.big).toBe(2n ** 63n - 1n)
      expect(byId.get(3)!.big).toBe(2n ** 53n + 1n)
      expect(byId.get(4)!.big).toBe(Number.MAX_SAFE_INTEGER)
      expect(typeof byId.get(1)!.id).toBe('number')
      expect(byId.get(1)!.flag).toBe(true)
      expect(byId.get(1)!.blob).toBeInstanceOf(Uint8Array)
      expect(byId.get(1)!.at).toBe('2026-11-21T10:00:00.123456Z')
      // A local timestamp keeps its digits and gets no zone, even one that does not exist in Europe/Berlin.
      expect(byId.get(1)!.wall).toBe('2026-03-29T02:30:00.000000')
      expect(byId.get(2)!.wall).toBe('0001-01-01T00:00:00.000000')
      expect((await connector().describe('conf_types')).fields.find((f) => f.name === 'wall')!.type).toBe('localtimestamp')
      expect(byId.get(2)!.clock).toBe('00:00:00')
      expect(byId.get(1)!.doc).toBe(ROWS[0]!.doc)
      expect(typeof byId.get(1)!.amount).toBe('string')
      expect([...(byId.get(2)!.label as string)].length).toBe(100_000)
    })

    it('lookup reads the same values as scan', async () => {
      await seed(connector(), 'conf_types', FIELDS, ['id'], ROWS)
      const rows = await connector().lookup('conf_types', ['id'], [[3], [1], [12345]], names)
      const sorted = [...rows].sort((a, b) => Number(a.id) - Number(b.id))
      expectRows(FIELDS, sorted, [ROWS[0]!, ROWS[2]!])
    })

    it('JSON is canonical whatever key order and spacing it was written with', async () => {
      const fields = [field('id', 'integer', { nullable: false }), field('doc', 'json')]
      await seed(connector(), 'conf_json', fields, ['id'], [{ id: 1, doc: '{ "b" : 1, "a" : { "d": [1, 2], "c": null } }' }])
      const { rows } = await scanAll(connector(), 'conf_json', { fields: ['doc'], keys: ['id'] })
      expect(rows[0]!.doc).toBe('{"a":{"c":null,"d":[1,2]},"b":1}')
    })
  })
}
