/**
 * Incremental runs never cost more than a full sync of the same rows
 * (issue 6, item 9): a look-back window that re-reads as many rows as the
 * destination holds (many rows sharing the watermark's cursor value, as
 * after a bulk `UPDATE … SET updated_at = now`) is compared as a full merge
 * instead of one lookup per row, with the same result and watermark; a
 * smaller window stays on the cursor scan.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Progress } from '../../src/engine/progress.js'
import type { SyncPlanInput } from '../../src/plan/schema.js'
import { openDatasource, type TestDatasource } from './datasources.js'
import { openManager, readAll } from './sync-harness.js'

const sync: SyncPlanInput = {
  id: 'items',
  source: { connection: 'src', entity: 'items' },
  destination: { connection: 'dst', entity: 'items', create: true },
  mode: 'incremental',
  cursor: 'updated_at',
  batchSize: 7,
}

let src: TestDatasource
let dst: TestDatasource
beforeEach(async () => {
  src = await openDatasource('sqlite', 'src')
  dst = await openDatasource('sqlite', 'dst')
  await src.exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, updated_at DATETIME NOT NULL)`)
  for (let id = 1; id <= 40; id++) await src.exec(`INSERT INTO items VALUES (?, ?, ?)`, [id, `item ${id}`, '2025-01-06T12:00:00.517Z'])
})
afterEach(async () => {
  await src?.cleanup()
  await dst?.cleanup()
})

/** The phases a run reported, in order, each once. */
function phases(progress: Progress[]): string[] {
  return progress.map((p) => p.phase).filter((phase, i, all) => phase !== all[i - 1])
}

describe('an incremental run that would re-read the whole destination', () => {
  it('compares both sides in full instead, writes the same changes and keeps the watermark', async () => {
    const { manager, cleanup } = await openManager(src, dst, [sync])
    try {
      const first: Progress[] = []
      expect(await manager.run('items', { onProgress: (p) => first.push(p) })).toMatchObject({ status: 'succeeded', created: 40 })
      expect(phases(first)).toContain('changes') // a first run keeps its checkpoint per batch

      // Half the rows change without touching the cursor: the 60 s look-back re-reads all 40.
      await src.exec(`UPDATE items SET name = name || ' (changed)' WHERE id % 2 = 0`)
      const second: Progress[] = []
      expect(await manager.run('items', { onProgress: (p) => second.push(p) })).toMatchObject({ status: 'succeeded', read: 40, updated: 20, unchanged: 20, deleted: 0 })
      expect(phases(second)).not.toContain('changes')
      expect(second.find((p) => p.phase === 'copy')?.message).toMatch(/40 rows to re-read since 2025-01-06T12:00:00\.517000Z, as many as the destination holds: comparing both sides in full/)
      expect((await readAll(dst, 'items', ['id'])).filter((r) => String(r.name).endsWith('(changed)'))).toHaveLength(20)
      const watermark = (await manager.status()).find((s) => s.syncId === 'items')?.watermark
      expect(watermark).toMatchObject({ cursor: '2025-01-06T12:00:00.517000Z', key: [40] })

      // Rows an hour later: once the watermark is there, the window holds only them, read by cursor.
      await src.exec(`INSERT INTO items VALUES (41, 'item 41', '2025-01-06T13:00:00.000Z')`)
      expect(await manager.run('items')).toMatchObject({ status: 'succeeded', read: 41, created: 1, unchanged: 40 })
      await src.exec(`INSERT INTO items VALUES (42, 'item 42', '2025-01-06T13:00:30.000Z')`)
      const fourth: Progress[] = []
      expect(await manager.run('items', { onProgress: (p) => fourth.push(p) })).toMatchObject({ status: 'succeeded', read: 2, created: 1, unchanged: 1 })
      expect(phases(fourth)).toContain('changes')
    } finally {
      await cleanup()
    }
  })
})
