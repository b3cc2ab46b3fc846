/**
 * Randomized two-way rounds (fast-check, fixed seed): each round makes random
 * inserts, updates and deletes on both sides, often to the same keys, then
 * syncs with latest-wins. After every sync both sides equal the model (each
 * overlapping edit resolved as latest-wins says, an update beating a delete),
 * the conflicts counted are the keys both sides changed differently, and an
 * idle run writes nothing. PostgreSQL <-> SQLite and PostgreSQL <-> MariaDB.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Row } from '../../../src/values/canonical.js'
import { hasMysql, hasPostgres } from '../../helpers/services.js'
import type { DatasourceKind } from '../datasources.js'
import { openManager } from '../sync-harness.js'
import { at, deleteItem, items, itemsSync, openPair, putItem } from './two-way-harness.js'

const pgAvailable = await hasPostgres()
const mysqlAvailable = await hasMysql()

type Content = { name: string; qty: number | null; price: string | null }
type Op = { side: 'source' | 'destination'; id: number; put?: Content }

const content = fc.record({
  name: fc.constantFrom('a', 'b', 'c'),
  qty: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }),
  price: fc.constantFrom('1.00', '2.50', null),
})
const op: fc.Arbitrary<Op> = fc.record({
  side: fc.constantFrom('source' as const, 'destination' as const),
  id: fc.integer({ min: 1, max: 12 }),
  put: fc.option(content, { nil: undefined, freq: 3 }),
})
const rounds = fc.array(fc.array(op, { maxLength: 10 }), { minLength: 4, maxLength: 7 })

const same = (a: Content | undefined, b: Content | undefined) => JSON.stringify(a) === JSON.stringify(b)

const PAIRS: { source: DatasourceKind; destination: DatasourceKind; available: boolean }[] = [
  { source: 'postgres', destination: 'sqlite', available: pgAvailable },
  { source: 'postgres', destination: 'mysql', available: pgAvailable && mysqlAvailable },
]

for (const pair of PAIRS) {
  describe.skipIf(!pair.available)(`randomized two-way rounds ${pair.source} <-> ${pair.destination}`, () => {
    it('after every sync both sides equal the latest-wins model, and an idle run writes nothing', async () => {
      await fc.assert(
        fc.asyncProperty(rounds, async (plan) => {
          const { src, dst } = await openPair(pair.source, pair.destination)
          const { manager, cleanup } = await openManager(src, dst, [itemsSync({ conflict: 'latest-wins', batchSize: 5 })])
          try {
            let clock = 0
            // What both sides agree on after the last sync, by id.
            let agreed = new Map<number, Content>()
            for (const ops of plan) {
              const sides = { source: new Map(agreed), destination: new Map(agreed) }
              const lastEdit = { source: new Map<number, number>(), destination: new Map<number, number>() }
              for (const o of ops) {
                const t = ++clock
                const ds = o.side === 'source' ? src : dst
                if (o.put) {
                  await putItem(ds, { id: o.id, ...o.put, updated_at: at(t) })
                  sides[o.side].set(o.id, o.put)
                } else {
                  await deleteItem(ds, o.id)
                  sides[o.side].delete(o.id)
                }
                lastEdit[o.side].set(o.id, t)
              }
              const expected = new Map<number, Content>()
              let conflicts = 0
              for (let id = 1; id <= 12; id++) {
                const s = sides.source.get(id)
                const d = sides.destination.get(id)
                const base = agreed.get(id)
                let result: Content | undefined
                if (same(s, d)) result = s
                else if (same(s, base)) result = d
                else if (same(d, base)) result = s
                else {
                  conflicts++
                  // An update beats a delete; otherwise the later cursor (all distinct here).
                  if (!s) result = d
                  else if (!d) result = s
                  else result = (lastEdit.source.get(id) ?? 0) > (lastEdit.destination.get(id) ?? 0) ? s : d
                }
                if (result) expected.set(id, result)
              }
              const result = await manager.run('items')
              expect(result).toMatchObject({ status: 'succeeded', conflicts })
              const want: Row[] = [...expected.entries()].sort(([a], [b]) => a - b).map(([id, c]) => ({ id, ...c }))
              expect(await items(src)).toEqual(want)
              expect(await items(dst)).toEqual(want)
              expect(await manager.run('items')).toMatchObject({ status: 'succeeded', created: 0, updated: 0, deleted: 0, conflicts: 0, failed: 0 })
              agreed = expected
            }
          } finally {
            await cleanup()
            await src.cleanup()
            await dst.cleanup()
          }
        }),
        { seed: 20261201, numRuns: 4, endOnFailure: true },
      )
    }, 240_000)
  })
}
