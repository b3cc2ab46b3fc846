/**
 * Two-way conflicts, PostgreSQL <-> SQLite: every strategy on update/update,
 * update/delete, delete/update and insert/insert; the `conflict` listener;
 * the manual queue. Each case starts from both sides agreeing on one row.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { SyncPlanInput } from '../../../src/plan/schema.js'
import type { SyncManager } from '../../../src/sync-manager.js'
import { hasPostgres } from '../../helpers/services.js'
import type { TestDatasource } from '../datasources.js'
import { openManager } from '../sync-harness.js'
import { at, deleteItem, items, itemsSync, openPair, putItem, updateItem } from './two-way-harness.js'

const pgAvailable = await hasPostgres()

describe.skipIf(!pgAvailable)('two-way conflicts', () => {
  let src: TestDatasource
  let dst: TestDatasource
  let manager: SyncManager
  let cleanup: () => Promise<void>
  beforeEach(async () => {
    ;({ src, dst } = await openPair('postgres', 'sqlite'))
  })
  afterEach(async () => {
    await cleanup?.()
    await src?.cleanup()
    await dst?.cleanup()
  })

  /** Both sides agree on item 1 (name a, qty 1), then the sync is ready for edits. */
  async function agreed(extra: Partial<SyncPlanInput>): Promise<void> {
    await putItem(src, { id: 1, name: 'a', qty: 1, price: '1.00', updated_at: at(1) })
    ;({ manager, cleanup } = await openManager(src, dst, [itemsSync(extra)]))
    expect(await manager.run('items')).toMatchObject({ status: 'succeeded', created: 1 })
  }

  const one = async (ds: TestDatasource) => (await items(ds)).find((r) => r.id === 1)

  it('latest-wins: the later edit wins the whole row; a tie goes to conflictTies', async () => {
    await agreed({ conflict: 'latest-wins', conflictTies: 'destination' })
    await updateItem(src, 1, { name: 'source edit', updated_at: at(10) })
    await updateItem(dst, 1, { name: 'destination edit', qty: 2, updated_at: at(11) })
    expect(await manager.run('items')).toMatchObject({ status: 'succeeded', conflicts: 1, updated: 1 })
    expect(await one(src)).toMatchObject({ name: 'destination edit', qty: 2 })
    expect(await items(src)).toEqual(await items(dst))

    await updateItem(src, 1, { name: 'source later', updated_at: at(21) })
    await updateItem(dst, 1, { name: 'destination earlier', updated_at: at(20) })
    expect(await manager.run('items')).toMatchObject({ conflicts: 1 })
    expect(await one(dst)).toMatchObject({ name: 'source later' })

    await updateItem(src, 1, { name: 'tie source', updated_at: at(30) })
    await updateItem(dst, 1, { name: 'tie destination', updated_at: at(30) })
    expect(await manager.run('items')).toMatchObject({ conflicts: 1 })
    expect(await one(src)).toMatchObject({ name: 'tie destination' })
    expect(await manager.run('items')).toMatchObject({ created: 0, updated: 0, deleted: 0, conflicts: 0 })
  })

  it('source-wins and destination-wins take their side whatever the times', async () => {
    await agreed({ conflict: 'source-wins' })
    await updateItem(src, 1, { name: 'source', updated_at: at(10) })
    await updateItem(dst, 1, { name: 'destination', updated_at: at(99) })
    expect(await manager.run('items')).toMatchObject({ conflicts: 1 })
    expect(await one(dst)).toMatchObject({ name: 'source' })
    manager.updatePlan(itemsSync({ conflict: 'destination-wins' }))
    await updateItem(src, 1, { name: 'source again', updated_at: at(200) })
    await updateItem(dst, 1, { name: 'destination again', updated_at: at(100) })
    expect(await manager.run('items')).toMatchObject({ conflicts: 1 })
    expect(await one(src)).toMatchObject({ name: 'destination again' })
  })

  it('merge keeps edits to different fields from both sides; the same field falls back to latest-wins', async () => {
    await agreed({ conflict: 'merge' })
    await updateItem(src, 1, { name: 'renamed at source', updated_at: at(10) })
    await updateItem(dst, 1, { qty: 42, updated_at: at(11) })
    expect(await manager.run('items')).toMatchObject({ status: 'succeeded', conflicts: 1 })
    expect(await one(src)).toMatchObject({ name: 'renamed at source', qty: 42, price: '1.00' })
    expect(await items(src)).toEqual(await items(dst))

    await updateItem(src, 1, { name: 'both: source', price: '9.99', updated_at: at(21) })
    await updateItem(dst, 1, { name: 'both: destination', updated_at: at(20) })
    expect(await manager.run('items')).toMatchObject({ conflicts: 1 })
    expect(await one(dst)).toMatchObject({ name: 'both: source', price: '9.99', qty: 42 })
    expect(await items(src)).toEqual(await items(dst))
    expect(await manager.run('items')).toMatchObject({ created: 0, updated: 0, deleted: 0, conflicts: 0 })
  })

  it('update/delete and delete/update: latest-wins keeps the update; source-wins keeps the source’s delete', async () => {
    await agreed({ conflict: 'latest-wins' })
    await updateItem(src, 1, { name: 'kept', updated_at: at(10) })
    await deleteItem(dst, 1)
    expect(await manager.run('items')).toMatchObject({ conflicts: 1, created: 1 })
    expect(await one(dst)).toMatchObject({ name: 'kept' })
    await deleteItem(src, 1)
    await updateItem(dst, 1, { name: 'kept too', updated_at: at(20) })
    expect(await manager.run('items')).toMatchObject({ conflicts: 1, created: 1 })
    expect(await one(src)).toMatchObject({ name: 'kept too' })
    manager.updatePlan(itemsSync({ conflict: 'source-wins' }))
    await deleteItem(src, 1)
    await updateItem(dst, 1, { name: 'lost', updated_at: at(30) })
    expect(await manager.run('items')).toMatchObject({ conflicts: 1, deleted: 1 })
    expect(await items(dst)).toEqual([])
    expect(await items(src)).toEqual([])
  })

  it('insert/insert: the same row on both sides just agrees; different rows are a conflict', async () => {
    ;({ manager, cleanup } = await openManager(src, dst, [itemsSync({ conflict: 'latest-wins' })]))
    await putItem(src, { id: 5, name: 'same', qty: 1, price: '1.50', updated_at: at(1) })
    await putItem(dst, { id: 5, name: 'same', qty: 1, price: '1.5', updated_at: at(2) })
    await putItem(src, { id: 6, name: 'older', qty: 1, price: null, updated_at: at(1) })
    await putItem(dst, { id: 6, name: 'newer', qty: 2, price: null, updated_at: at(2) })
    expect(await manager.run('items')).toMatchObject({ status: 'succeeded', conflicts: 1, updated: 1, created: 0 })
    expect((await items(src)).find((r) => r.id === 6)).toMatchObject({ name: 'newer', qty: 2 })
    expect(await items(src)).toEqual(await items(dst))
  })

  it('a conflict listener decides first: a side, or its own row written to both sides', async () => {
    await agreed({ conflict: 'source-wins' })
    const seen: unknown[] = []
    manager.on('conflict', (c) => {
      seen.push({ kind: c.kind, recordId: c.recordId, source: c.source?.name, destination: c.destination?.name })
      return { row: { name: `${String(c.source?.name)} + ${String(c.destination?.name)}` } }
    })
    await updateItem(src, 1, { name: 'S', updated_at: at(10) })
    await updateItem(dst, 1, { name: 'D', updated_at: at(11) })
    expect(await manager.run('items')).toMatchObject({ conflicts: 1 })
    expect(seen).toEqual([{ kind: 'update/update', recordId: '1', source: 'S', destination: 'D' }])
    expect(await one(src)).toMatchObject({ name: 'S + D' })
    expect(await one(dst)).toMatchObject({ name: 'S + D' })
    expect(await manager.run('items')).toMatchObject({ created: 0, updated: 0, deleted: 0, conflicts: 0 })
  })

  it('manual leaves both sides, queues the conflict once with both versions, and resolves it by taking a side', async () => {
    await agreed({ conflict: 'manual' })
    await updateItem(src, 1, { name: 'S', updated_at: at(10) })
    await updateItem(dst, 1, { name: 'D', updated_at: at(11) })
    expect(await manager.run('items')).toMatchObject({ status: 'succeeded', conflicts: 1, updated: 0 })
    expect(await one(src)).toMatchObject({ name: 'S' })
    expect(await one(dst)).toMatchObject({ name: 'D' })
    // Seen again: still one conflict, not counted twice.
    expect(await manager.run('items')).toMatchObject({ conflicts: 0, updated: 0 })
    const queued = await manager.conflicts()
    expect(queued).toHaveLength(1)
    expect(queued[0]).toMatchObject({ syncId: 'items', recordId: '1', kind: 'update/update', source: { name: 'S' }, destination: { name: 'D' } })
    expect(queued[0]!.base.hash).toMatch(/^[0-9a-f]{32}$/)
    expect((await manager.history('items', 5)).map((r) => r.conflicts)).toContain(1)

    await manager.resolveConflict(queued[0]!.id, 'destination')
    expect(await one(src)).toMatchObject({ name: 'D' })
    expect(await manager.conflicts()).toEqual([])
    expect(await manager.run('items')).toMatchObject({ created: 0, updated: 0, deleted: 0, conflicts: 0 })
    await expect(manager.resolveConflict(queued[0]!.id, 'source')).rejects.toMatchObject({ code: 'CONFLICT_NOT_FOUND' })
  })
})
