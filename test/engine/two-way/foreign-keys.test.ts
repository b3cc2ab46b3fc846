/**
 * Two-way syncs of tables linked by foreign keys, run together: inserts
 * reach each side parents first and deletes children first, as one-way
 * runs do (src/engine/run-syncs.ts).
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { SyncPlanInput } from '../../../src/plan/schema.js'
import { openDatasource, type TestDatasource } from '../datasources.js'
import { openManager, readAll } from '../sync-harness.js'
import { at } from './two-way-harness.js'

let sides: TestDatasource[] = []
afterEach(async () => {
  for (const side of sides) await side.cleanup()
  sides = []
})

const ids = async (ds: TestDatasource, table: string) => (await readAll(ds, table, ['id'])).map((r) => Number(r.id))

describe('two-way syncs linked by foreign keys', () => {
  it('deletes children before parents and inserts parents before children, on both sides', async () => {
    const src = await openDatasource('postgres', 'src')
    const dst = await openDatasource('postgres', 'dst')
    sides = [src, dst]
    for (const ds of sides) {
      await ds.exec('CREATE TABLE parents (id bigint PRIMARY KEY, name text NOT NULL, updated_at timestamptz)')
      await ds.exec('CREATE TABLE children (id bigint PRIMARY KEY, parent_id bigint NOT NULL REFERENCES parents, updated_at timestamptz)')
    }
    for (let i = 1; i <= 4; i++) {
      await src.exec('INSERT INTO parents VALUES (?, ?, ?)', [i, `p${i}`, at(i)])
      await src.exec('INSERT INTO children VALUES (?, ?, ?)', [i, i, at(i)])
    }
    // Children listed first on purpose.
    const syncs: SyncPlanInput[] = ['children', 'parents'].map((t) => ({
      id: t,
      source: { connection: 'src', entity: t },
      destination: { connection: 'dst', entity: t },
      mode: 'incremental',
      direction: 'two-way',
      cursor: 'updated_at',
      lookback: '0s',
    }))
    const { manager, cleanup } = await openManager(src, dst, syncs)
    try {
      expect((await manager.runMany()).map((r) => [r.id, r.status, r.created])).toEqual([
        ['children', 'succeeded', 4],
        ['parents', 'succeeded', 4],
      ])
      // A parent and its child go at the source, another pair at the destination; a new pair comes on each side.
      await src.exec('DELETE FROM children WHERE id = 2')
      await src.exec('DELETE FROM parents WHERE id = 2')
      await dst.exec('DELETE FROM children WHERE id = 3')
      await dst.exec('DELETE FROM parents WHERE id = 3')
      await src.exec('INSERT INTO parents VALUES (8, ?, ?)', ['p8', at(50)])
      await src.exec('INSERT INTO children VALUES (8, 8, ?)', [at(50)])
      await dst.exec('INSERT INTO parents VALUES (9, ?, ?)', ['p9', at(51)])
      await dst.exec('INSERT INTO children VALUES (9, 9, ?)', [at(51)])
      const results = await manager.runMany()
      expect(results.map((r) => [r.id, r.status, r.created, r.deleted, r.failed])).toEqual([
        ['children', 'succeeded', 2, 2, 0],
        ['parents', 'succeeded', 2, 2, 0],
      ])
      for (const ds of sides) {
        expect(await ids(ds, 'parents')).toEqual([1, 4, 8, 9])
        expect(await ids(ds, 'children')).toEqual([1, 4, 8, 9])
      }
    } finally {
      await cleanup()
    }
  })
})
