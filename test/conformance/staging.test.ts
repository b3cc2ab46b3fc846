/**
 * Conformance: commit and rollback of staging destinations (files, written
 * whole at the end of a run). The engine applies several batches, then
 * commits once; on failure it rolls back. Nothing staged is visible before
 * the commit, and a rollback leaves the datasource byte for byte as it was.
 * Reads go through the harness's `connector`, which sees only what is on disk.
 */
import { describe, expect, it } from 'vitest'
import type { Row } from '../../src/values/canonical.js'
import { expectRows, field, scanAll, seed, useOpened } from './fixtures.js'
import { HARNESSES } from './harnesses.js'

const FIELDS = [field('id', 'integer', { nullable: false }), field('name', 'text'), field('qty', 'integer')]
const row = (id: number, version = 1): Row => ({ id, name: `item ${id} v${version}`, qty: id * version })
const OLD = [1, 2, 3, 4, 5].map((id) => row(id))

/** Harnesses whose connector, as the engine gets it, stages writes: only they get these cases. */
const STAGING: typeof HARNESSES = []
for (const harness of HARNESSES) {
  if (!(await harness.available())) continue
  const probe = await harness.open()
  if ((probe.staged ?? probe.connector).capabilities.staging) STAGING.push(harness)
  await probe.cleanup()
}

it('some connector stages its writes (the cases below are not vacuous)', () => {
  expect(STAGING.map((h) => h.kind)).toEqual(expect.arrayContaining(['csv', 'ndjson']))
})

for (const harness of STAGING) {
  describe(`${harness.kind}: commit and rollback`, () => {
    const opened = useOpened(harness)
    const read = async (entity: string) => (await scanAll(opened().connector, entity, { fields: FIELDS.map((f) => f.name), keys: ['id'], batchSize: 2 })).rows
    const staging = () => opened().staged ?? opened().connector

    it('several staged batches stay invisible (files unchanged) until one commit makes them all visible', async () => {
      const staged = staging()
      await seed(opened().connector, 'conf_stage', FIELDS, ['id'], OLD)
      const before = opened().snapshot?.()
      await staged.apply('conf_stage', { upserts: [row(1, 2), row(2, 2)], deletes: [] }, { keys: ['id'] })
      await staged.apply('conf_stage', { upserts: [row(6), row(7)], deletes: [] }, { keys: ['id'] })
      await staged.apply('conf_stage', { upserts: [], deletes: [[3]] }, { keys: ['id'] })
      expectRows(FIELDS, await read('conf_stage'), OLD)
      if (before) expect(opened().snapshot!()).toEqual(before)
      await staged.commit!('conf_stage')
      expectRows(FIELDS, await read('conf_stage'), [row(1, 2), row(2, 2), row(4), row(5), row(6), row(7)])
    })

    it('rollback leaves the old content byte for byte, and the next batch starts from it', async () => {
      const staged = staging()
      await seed(opened().connector, 'conf_unstage', FIELDS, ['id'], OLD)
      const before = opened().snapshot?.()
      expect(before?.size, 'the harness lists the files it wrote').toBeGreaterThan(0)
      await staged.apply('conf_unstage', { upserts: [row(1, 9), row(8)], deletes: [] }, { keys: ['id'] })
      await staged.apply('conf_unstage', { upserts: [], deletes: [[2], [4]] }, { keys: ['id'] })
      await staged.rollback!('conf_unstage')
      expect(opened().snapshot!()).toEqual(before)
      expectRows(FIELDS, await read('conf_unstage'), OLD)
      await staged.apply('conf_unstage', { upserts: [row(9)], deletes: [] }, { keys: ['id'] })
      await staged.commit!('conf_unstage')
      expectRows(FIELDS, await read('conf_unstage'), [...OLD, row(9)])
    })
  })
}
