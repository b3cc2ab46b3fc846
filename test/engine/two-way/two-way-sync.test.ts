/**
 * Two-way incremental sync, PostgreSQL <-> SQLite: each side's inserts,
 * updates and deletes reach the other; every conflict strategy; no echo.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { hasPostgres } from '../../helpers/services.js'
import type { TestDatasource } from '../datasources.js'
import { openManager } from '../sync-harness.js'
import { at, deleteItem, items, itemsSync, openPair, putItem, updateItem } from './two-way-harness.js'

const pgAvailable = await hasPostgres()

describe.skipIf(!pgAvailable)('two-way sync PostgreSQL <-> SQLite', () => {
  let src: TestDatasource
  let dst: TestDatasource
  beforeEach(async () => {
    ;({ src, dst } = await openPair('postgres', 'sqlite'))
  })
  afterEach(async () => {
    await src?.cleanup()
    await dst?.cleanup()
  })

  it('sends each side’s inserts, updates and deletes to the other, and an idle run writes nothing', async () => {
    for (let id = 1; id <= 10; id++) await putItem(src, { id, name: `s${id}`, qty: id, price: '1.50', updated_at: at(id) })
    for (let id = 11; id <= 15; id++) await putItem(dst, { id, name: `d${id}`, qty: id, price: null, updated_at: at(id) })
    const { manager, cleanup } = await openManager(src, dst, [itemsSync()])
    try {
      // The destination pass reads back the 10 rows the source pass wrote: not counted again as unchanged.
      expect(await manager.run('items')).toMatchObject({ status: 'succeeded', created: 15, updated: 0, deleted: 0, conflicts: 0, unchanged: 0 })
      expect(await items(src)).toEqual(await items(dst))
      expect(await items(src)).toHaveLength(15)
      const idle = await manager.run('items')
      expect(idle).toMatchObject({ status: 'succeeded', created: 0, updated: 0, deleted: 0, conflicts: 0 })

      await updateItem(src, 2, { name: 'changed at source', updated_at: at(100) })
      await updateItem(dst, 12, { qty: 99, updated_at: at(101) })
      await deleteItem(src, 3)
      await deleteItem(dst, 13)
      await putItem(dst, { id: 20, name: 'new at destination', qty: 1, price: '2.00', updated_at: at(102) })
      // A dry run counts what it would write and writes nothing, on either side.
      const [sourceBefore, destinationBefore] = [await items(src), await items(dst)]
      expect(await manager.run('items', { dryRun: true })).toMatchObject({ status: 'succeeded', created: 1, updated: 2, deleted: 2 })
      expect(await items(src)).toEqual(sourceBefore)
      expect(await items(dst)).toEqual(destinationBefore)
      expect(await manager.run('items')).toMatchObject({ status: 'succeeded', created: 1, updated: 2, deleted: 2, conflicts: 0, unchanged: 0 })
      const after = await items(src)
      expect(after).toEqual(await items(dst))
      expect(after.find((r) => r.id === 2)?.name).toBe('changed at source')
      expect(after.find((r) => r.id === 12)?.qty).toBe(99)
      expect(after.map((r) => r.id)).not.toContain(3)
      expect(after.map((r) => r.id)).not.toContain(13)
      expect(after.map((r) => r.id)).toContain(20)
      expect(await manager.run('items')).toMatchObject({ created: 0, updated: 0, deleted: 0, conflicts: 0 })
    } finally {
      await cleanup()
    }
  })
})
