/**
 * The two-way state (state version 6) in both stores: base entries by key,
 * paged in the order the databases sort keys; the destination watermark;
 * the conflict queue; and `forgetSync` clearing all of it.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPostgresStateStore } from '../../src/state/postgres-state-store.js'
import { openSqliteStateStore } from '../../src/state/sqlite-state-store.js'
import type { StateStore } from '../../src/state/state-store.js'
import type { StoredConflict } from '../../src/state/two-way-state.js'
import { baseKeyId } from '../../src/state/two-way-state.js'
import type { CanonicalType, KeyValues } from '../../src/values/canonical.js'
import { compareKeys } from '../../src/values/compare.js'
import { decodeSortKey, sortKey } from '../../src/values/sort-key.js'
import { createPgDatabase, hasPostgres, tempDir } from '../helpers/services.js'

const pgAvailable = await hasPostgres()
const TYPES: CanonicalType[] = ['integer', 'text']
const KEYS: KeyValues[] = [
  [-5, 'a'],
  [0, ''],
  [0, 'a\u0000b'],
  [0, 'z'],
  [0, '\u{1F600}'], // above U+FFFF: after 'z' in UTF-8 order, before it in UTF-16
  [7, 'é'],
  [2n ** 60n, 'x'],
]
const hash = (n: number) => Buffer.alloc(16, n)

describe('sort key encoding', () => {
  it('decodes to the key it came from, and orders like compareKeys', () => {
    for (const key of KEYS) expect(decodeSortKey(TYPES, sortKey(TYPES, key)!)).toEqual(key)
    const shuffled = [...KEYS].reverse()
    const byBytes = [...shuffled].sort((a, b) => Buffer.compare(sortKey(TYPES, a)!, sortKey(TYPES, b)!))
    expect(byBytes).toEqual([...shuffled].sort((a, b) => compareKeys(TYPES, a, b)))
    expect(decodeSortKey(['bytes', 'boolean'], sortKey(['bytes', 'boolean'], [new Uint8Array([0, 255, 0]), true])!)).toEqual([new Uint8Array([0, 255, 0]), true])
  })
})

const BACKENDS: { name: string; available: boolean; open: () => Promise<{ store: StateStore; done: () => Promise<void> }> }[] = [
  {
    name: 'sqlite',
    available: true,
    open: async () => {
      const dir = tempDir('syncline-two-way-state-')
      const store = openSqliteStateStore(join(dir.path, 'state.db'))
      return { store, done: async () => (await store.close(), dir.remove()) }
    },
  },
  {
    name: 'postgres',
    available: pgAvailable,
    open: async () => {
      const db = await createPgDatabase('syncline_two_way_state')
      const store = await openPostgresStateStore(db.url)
      return { store, done: async () => (await store.close(), await db.drop()) }
    },
  },
]

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`two-way state in ${backend.name}`, () => {
    let store: StateStore
    let done: () => Promise<void>
    beforeAll(async () => {
      ;({ store, done } = await backend.open())
    })
    afterAll(async () => done?.())

    it('keeps base entries by key and pages through them in key order', async () => {
      const state = store.twoWay()
      const encoded = KEYS.map((k) => sortKey(TYPES, k)!)
      await state.writeBase('s', [...encoded].reverse().map((key, i) => ({ key, hash: hash(i), ...(i === 0 ? { fields: Buffer.from([1, 2, 3, 4]), pending: Buffer.alloc(48, 9) } : {}) })), [])
      await state.writeBase('other', [{ key: encoded[0]!, hash: hash(99) }], [])
      const pages: KeyValues[] = []
      let after: Uint8Array | undefined
      for (;;) {
        const page = await state.scanBase('s', after, 3)
        pages.push(...page.map((e) => decodeSortKey(TYPES, e.key)))
        if (page.length < 3) break
        after = page[page.length - 1]!.key
      }
      expect(pages).toEqual(KEYS)
      const hexKeys = [...(await state.scanBaseKeys('s', undefined, 4)), ...(await state.scanBaseKeys('s', encoded[3]!.toString('hex'), 10))]
      expect(hexKeys.map((k) => decodeSortKey(TYPES, Buffer.from(k, 'hex')))).toEqual(KEYS)
      const found = await state.getBase('s', [encoded[6]!, encoded[1]!, sortKey(TYPES, [1, 'missing'])!])
      expect([...found.keys()].sort()).toEqual([baseKeyId(encoded[6]!), baseKeyId(encoded[1]!)].sort())
      const last = found.get(baseKeyId(encoded[6]!))!
      expect(Buffer.from(last.hash!)).toEqual(hash(0))
      expect(Buffer.from(last.fields!)).toEqual(Buffer.from([1, 2, 3, 4]))
      expect(last.pending).toHaveLength(48)
      await state.writeBase('s', [{ key: encoded[6]!, hash: hash(5) }], [encoded[0]!])
      const again = await state.getBase('s', [encoded[6]!, encoded[0]!])
      expect(again.get(baseKeyId(encoded[6]!))).toEqual({ key: new Uint8Array(encoded[6]!), hash: new Uint8Array(hash(5)) })
      expect(again.has(baseKeyId(encoded[0]!))).toBe(false)
      expect(await state.baseSize('s')).toMatchObject({ keys: 6 })
    })

    it('keeps the destination watermark exactly, and queues conflicts one open per record', async () => {
      const state = store.twoWay()
      await state.setDestinationWatermark('s', { cursor: '2026-01-01T00:00:00.000001Z', key: [2n ** 63n - 1n] })
      expect(await state.getDestinationWatermark('s')).toEqual({ cursor: '2026-01-01T00:00:00.000001Z', key: [2n ** 63n - 1n] })
      const conflict: StoredConflict = {
        id: 'c1',
        syncId: 's',
        recordId: '42',
        key: [42],
        kind: 'update/update',
        source: { id: 42, name: 'S', raw: new Uint8Array([1]) },
        destination: null,
        base: { hash: 'ab' },
        detectedAt: '2026-01-01T00:00:00.000Z',
      }
      await state.saveConflicts([conflict])
      await state.saveConflicts([{ ...conflict, source: { id: 42, name: 'S2' } }])
      expect((await state.openConflicts('s', ['42', '43'])).get('42')).toEqual({ ...conflict, source: { id: 42, name: 'S2' } })
      await expect(state.saveConflicts([{ ...conflict, id: 'c2' }])).rejects.toThrow()
      await state.resolveConflicts('s', ['42'], 'source', '2026-01-02T00:00:00.000Z')
      expect(await state.listConflicts({ syncId: 's' })).toEqual([])
      expect(await state.listConflicts({ syncId: 's', open: false })).toMatchObject([{ id: 'c1', resolution: 'source', resolvedAt: '2026-01-02T00:00:00.000Z' }])
      expect(await state.getConflict('c1')).toMatchObject({ resolution: 'source' })

      await store.forgetSync('s')
      expect(await state.scanBase('s', undefined, 10)).toEqual([])
      expect(await state.getDestinationWatermark('s')).toBeUndefined()
      expect(await state.getConflict('c1')).toBeUndefined()
      expect(await state.scanBase('other', undefined, 10)).toHaveLength(1)
    })
  })
}
