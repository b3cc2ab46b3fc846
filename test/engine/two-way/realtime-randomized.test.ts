/**
 * Randomized realtime two-way rounds (fast-check, fixed seed), PostgreSQL
 * <-> SQLite and PostgreSQL <-> MariaDB, a change feed on each side. Each
 * round stops the stream, makes random inserts, updates and deletes on both
 * sides, often to the same keys (so both feeds hold changes of one key before
 * either is applied: conflicts), and starts it again from its saved
 * positions; then, while it streams, edits other keys on one side each. Both
 * sides must reach the latest-wins model, and the run must have written
 * exactly what the model needs and counted its conflicts: an echo sent back,
 * or a false conflict, shows as an extra write or conflict.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Row } from '../../../src/values/canonical.js'
import type { DatasourceKind, TestDatasource } from '../datasources.js'
import { openManager } from '../sync-harness.js'
import { converged, startStreaming, type Streaming } from './realtime-harness.js'
import { at, deleteItem, itemsSync, openPair, putItem, updateItem } from './two-way-harness.js'

type Content = { name: string; qty: number | null; price: string | null }
type Op = { side: 'source' | 'destination'; id: number; put?: Content }
type Round = { offline: Op[]; live: Op[] }

const KEYS = 10
const content = fc.record({
  name: fc.constantFrom('a', 'b', 'c'),
  qty: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }),
  price: fc.constantFrom('1.00', '2.50', null),
})
const op: fc.Arbitrary<Op> = fc.record({
  side: fc.constantFrom('source' as const, 'destination' as const),
  id: fc.integer({ min: 1, max: KEYS }),
  put: fc.option(content, { nil: undefined, freq: 3 }),
})
const round: fc.Arbitrary<Round> = fc.record({
  offline: fc.array(op, { maxLength: 10 }),
  // Live edits: one per key, so none races another edit of its key.
  live: fc.uniqueArray(op, { selector: (o) => o.id, maxLength: 4 }),
})
const rounds = fc.array(round, { minLength: 3, maxLength: 4 })

const same = (a: Content | undefined, b: Content | undefined) => JSON.stringify(a) === JSON.stringify(b)
const rowsOf = (model: Map<number, Content>): Row[] => [...model.entries()].sort(([a], [b]) => a - b).map(([id, c]) => ({ id, ...c }))

const PAIRS: { source: DatasourceKind; destination: DatasourceKind }[] = [
  { source: 'postgres', destination: 'sqlite' },
  { source: 'postgres', destination: 'mysql' },
]

for (const pair of PAIRS) {
  describe(`randomized realtime two-way rounds ${pair.source} <-> ${pair.destination}`, () => {
    it('both sides reach the latest-wins model, with exactly the writes and conflicts it needs', async () => {
      await fc.assert(
        fc.asyncProperty(rounds, async (plan) => {
          const { src, dst } = await openPair(pair.source, pair.destination)
          // Slot names are shared by the whole PostgreSQL server: an id no other test uses.
          const id = `two-way-random-${pair.destination}`
          const { manager, cleanup } = await openManager(src, dst, [itemsSync({ id, mode: 'realtime', conflict: 'latest-wins', batchSize: 5 })])
          let running: Streaming | undefined = startStreaming(manager, id)
          try {
            await running.streaming
            let clock = 0
            const edit = async (o: Op, model: Map<number, Content>) => {
              const ds: TestDatasource = o.side === 'source' ? src : dst
              const t = ++clock
              if (o.put) {
                // A live put of a key that exists is one UPDATE: a DELETE and an INSERT would be two edits, each streamed.
                if (model.has(o.id)) await updateItem(ds, o.id, { ...o.put, updated_at: at(t) })
                else await putItem(ds, { id: o.id, ...o.put, updated_at: at(t) })
                model.set(o.id, o.put)
              } else {
                await deleteItem(ds, o.id)
                model.delete(o.id)
              }
              return t
            }
            let agreed = new Map<number, Content>()
            let writes = 0
            let conflicts = 0
            for (const { offline, live } of plan) {
              const result = await running.stop()
              running = undefined
              expect(result).toMatchObject({ status: 'succeeded', conflicts, failed: 0 })
              expect(result.created + result.updated + result.deleted).toBe(writes)

              // Both sides edited while nothing streams: each feed holds its side's changes.
              const sides = { source: new Map(agreed), destination: new Map(agreed) }
              const lastEdit = { source: new Map<number, number>(), destination: new Map<number, number>() }
              for (const o of offline) lastEdit[o.side].set(o.id, await edit(o, sides[o.side]))
              const expected = new Map<number, Content>()
              writes = 0
              conflicts = 0
              for (let id = 1; id <= KEYS; id++) {
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
                if (!same(result, s)) writes++
                if (!same(result, d)) writes++
                if (result) expected.set(id, result)
              }
              running = startStreaming(manager, id)
              await running.streaming
              await converged(src, dst, rowsOf(expected), running)

              // Live: each edit reaches the other side once.
              for (const o of live) {
                const before = expected.get(o.id)
                await edit(o, expected)
                if (!same(before, expected.get(o.id))) writes++
              }
              await converged(src, dst, rowsOf(expected), running)
              agreed = expected
            }
            const result = await running.stop()
            running = undefined
            expect(result).toMatchObject({ status: 'succeeded', conflicts, failed: 0 })
            expect(result.created + result.updated + result.deleted).toBe(writes)
          } finally {
            try {
              await running?.stop()
              // Drops both consumers (the PostgreSQL slot, the change log's position).
              await manager.forget(id)
            } finally {
              await cleanup()
              await src.cleanup()
              await dst.cleanup()
            }
          }
        }),
        { seed: 20261201, numRuns: 2, endOnFailure: true },
      )
    }, 240_000)
  })
}
