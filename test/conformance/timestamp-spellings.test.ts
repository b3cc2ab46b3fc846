/**
 * Conformance: a text field holding timestamps in more than one spelling
 * (or UTC offset) is reported with samples of each and a fix, so a text
 * cursor over it can be refused (issue 6, item 2); one spelling, or text
 * that holds no timestamps, is not reported.
 */
import { describe, expect, it } from 'vitest'
import type { Row } from '../../src/values/canonical.js'
import { field, seed, useConnector } from './fixtures.js'
import { HARNESSES } from './harnesses.js'

const FIELDS = [field('id', 'integer', { nullable: false }), field('at', 'text')]

function rows(values: (string | null)[]): Row[] {
  return values.map((at, i) => ({ id: i + 1, at }))
}

for (const harness of HARNESSES) {
  describe.skipIf(!(await harness.available()))(`${harness.kind}: timestamp spellings`, () => {
    const connector = useConnector(harness)

    it('reports a T and a space spelling, with samples of both and the fix', async () => {
      await seed(connector(), 'conf_spell_mixed', FIELDS, ['id'], rows(['2025-01-06T12:00:00Z', '2025-01-06T12:00:00Z', '2025-01-06 13:00:00', 'v1.2', null]))
      const found = await connector().timestampSpellings!('conf_spell_mixed', 'at')
      expect(found?.samples).toEqual(expect.arrayContaining(['2025-01-06 13:00:00', '2025-01-06T12:00:00Z']))
      expect(found?.samples).not.toContain('v1.2')
      expect(found?.fix.length).toBeGreaterThan(20)
    })

    it('reports one spelling with two UTC offsets', async () => {
      await seed(connector(), 'conf_spell_offsets', FIELDS, ['id'], rows(['2025-01-06T12:30:00+02:00', '2025-01-06T11:00:00+00:00']))
      expect((await connector().timestampSpellings!('conf_spell_offsets', 'at'))?.samples).toHaveLength(2)
    })

    it('reports nothing for one spelling, or for text that holds no timestamps', async () => {
      await seed(connector(), 'conf_spell_one', FIELDS, ['id'], rows(['2025-01-06T12:00:00.000Z', '2025-01-07T08:00:00.250Z', 'not a time', null]))
      expect(await connector().timestampSpellings!('conf_spell_one', 'at')).toBeUndefined()
      await seed(connector(), 'conf_spell_none', FIELDS, ['id'], rows(['1.10.0', '1.9.2', 'beta']))
      expect(await connector().timestampSpellings!('conf_spell_none', 'at')).toBeUndefined()
    })
  })
}
