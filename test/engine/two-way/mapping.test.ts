/**
 * Two-way syncs between differently shaped tables: renamed fields both ways,
 * a destination cursor of another name (`destinationCursor`), a one-way
 * transform that is written forward only, and the state in PostgreSQL
 * (state version 6 there too). Also the errors a wrong plan gets.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { PlanInput, SyncPlanInput } from '../../../src/plan/schema.js'
import { validatePlan } from '../../../src/plan/validate.js'
import { SyncManager } from '../../../src/sync-manager.js'
import { hasPostgres, tempDir } from '../../helpers/services.js'
import { openDatasource, type TestDatasource } from '../datasources.js'
import { readAll } from '../sync-harness.js'

const pgAvailable = await hasPostgres()

const SYNC: SyncPlanInput = {
  id: 'products',
  source: { connection: 'src', entity: 'items' },
  destination: { connection: 'dst', entity: 'products' },
  mode: 'incremental',
  direction: 'two-way',
  cursor: 'updated_at',
  destinationCursor: 'modified',
  lookback: '0s',
  mapping: {
    auto: true,
    exclude: ['updated_at'],
    fields: [
      { source: 'name', destination: 'title' },
      { source: 'name', destination: 'label', transform: 'UPPER(name)', oneWay: true },
    ],
  },
}

describe.skipIf(!pgAvailable)('two-way mapping', () => {
  let src: TestDatasource
  let dst: TestDatasource
  let dir: { path: string; remove: () => void }
  beforeEach(async () => {
    src = await openDatasource('postgres')
    dst = await openDatasource('sqlite', 'dst')
    dir = tempDir('syncline-two-way-map-')
    await src.exec('CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL, qty integer, updated_at timestamptz)')
    await dst.exec('CREATE TABLE products (id INTEGER PRIMARY KEY, title TEXT NOT NULL, qty INTEGER, label TEXT, modified TEXT)')
  })
  afterEach(async () => {
    await src?.cleanup()
    await dst?.cleanup()
    dir?.remove()
  })

  // The state lives in the source's PostgreSQL database (schema syncline).
  const plan = (sync: SyncPlanInput): PlanInput => ({ state: src.url, connections: { src: { url: src.url }, dst: { url: dst.url } }, syncs: [sync] })

  it('maps renamed fields both ways, reads the destination by its own cursor, writes one-way fields forward only', async () => {
    await src.exec(`INSERT INTO items VALUES (1, 'apple', 3, '2026-01-01T00:00:01Z'), (2, 'pear', 5, '2026-01-01T00:00:02Z')`)
    const manager = await SyncManager.open({ config: plan(SYNC), baseDir: dir.path })
    try {
      expect(await manager.run('products')).toMatchObject({ status: 'succeeded', created: 2, conflicts: 0 })
      expect(await readAll(dst, 'products', ['id'])).toMatchObject([
        { id: 1, title: 'apple', label: 'APPLE', qty: 3 },
        { id: 2, title: 'pear', label: 'PEAR', qty: 5 },
      ])
      await dst.exec(`UPDATE products SET title = 'green apple', label = 'hand-made', modified = '2026-01-02T00:00:00.000000Z' WHERE id = 1`)
      await dst.exec(`INSERT INTO products VALUES (3, 'plum', 1, NULL, '2026-01-02T00:00:01.000000Z')`)
      expect(await manager.run('products')).toMatchObject({ status: 'succeeded', created: 1, updated: 1, conflicts: 0 })
      expect(await src.query('SELECT id, name, qty FROM items ORDER BY id')).toEqual([
        { id: 1, name: 'green apple', qty: 3 },
        { id: 2, name: 'pear', qty: 5 },
        { id: 3, name: 'plum', qty: 1 },
      ])
      // A one-way field is not compared: the destination's own label stays until the source changes the row.
      expect(await manager.run('products')).toMatchObject({ created: 0, updated: 0, deleted: 0 })
      await src.exec(`UPDATE items SET qty = 9, updated_at = '2026-01-03T00:00:00Z' WHERE id = 1`)
      expect(await manager.run('products')).toMatchObject({ updated: 1 })
      expect((await readAll(dst, 'products', ['id']))[0]).toMatchObject({ title: 'green apple', label: 'GREEN APPLE', qty: 9 })
      const base = await (await manager['state']()).twoWay().baseSize('products')
      expect(base.keys).toBe(3)
    } finally {
      await manager.close()
    }
  })

  it('verify compares the renamed fields both directions write; one-way fields and cursors are no difference', async () => {
    await src.exec(`INSERT INTO items SELECT i, 'item ' || i, i, '2026-01-01T00:00:00Z' FROM generate_series(1, 30) i`)
    const manager = await SyncManager.open({ config: plan({ ...SYNC, batchSize: 4 }), baseDir: dir.path })
    try {
      expect(await manager.run('products')).toMatchObject({ status: 'succeeded', created: 30 })
      // The destination's own cursor and a hand-edited one-way label: both sides still agree.
      await dst.exec(`UPDATE products SET label = 'hand-made', modified = '2026-02-01T00:00:00.000000Z' WHERE id = 7`)
      expect(await manager.verify('products')).toMatchObject({ direction: 'two-way', inStep: true, compared: 30 })
      await dst.exec(`UPDATE products SET title = 'item 12 ', modified = '2026-02-01T00:00:01.000000Z' WHERE id = 12`)
      await src.exec(`UPDATE items SET qty = NULL, updated_at = '2026-01-02T00:00:00Z' WHERE id = 20; DELETE FROM items WHERE id = 25`)
      const differs = await manager.verify('products')
      expect(differs).toMatchObject({ inStep: false, compared: 30, missing: 0, extra: 1, changed: 2, samples: { extra: ['25'], changed: ['12', '20'] } })
      expect(differs.changedFields).toEqual([['title'], ['qty']])
      // Verify wrote nothing; a run settles both edits and the sides agree again.
      expect(await readAll(dst, 'products', ['id'])).toHaveLength(30)
      expect(await manager.run('products')).toMatchObject({ status: 'succeeded', conflicts: 0 })
      expect(await manager.verify('products')).toMatchObject({ inStep: true, compared: 29 })
    } finally {
      await manager.close()
    }
  })

  it('names the fix when the destination cursor is missing or unknown', async () => {
    const noCursor = { ...SYNC }
    delete noCursor.destinationCursor
    let manager = await SyncManager.open({ config: plan(noCursor), baseDir: dir.path })
    try {
      const result = await manager.run('products')
      expect(result).toMatchObject({ status: 'failed', errorCode: 'PLAN_INVALID' })
      expect(result.error).toContain("syncs[0].cursor: the source cursor 'updated_at' is not mapped to a destination field")
      expect(result.error).toContain('set destinationCursor')
    } finally {
      await manager.close()
    }
    manager = await SyncManager.open({ config: plan({ ...SYNC, destinationCursor: 'changed' }), baseDir: dir.path })
    try {
      const result = await manager.run('products')
      expect(result.error).toContain("syncs[0].destinationCursor: unknown field 'changed' in products")
    } finally {
      await manager.close()
    }
  })
})

describe('two-way plan validation', () => {
  const base = { connections: { a: { url: 'sqlite:./a.db' }, b: { url: 'sqlite:./b.db' } } }
  const errors = (sync: Partial<SyncPlanInput>) => {
    const result = validatePlan({ ...base, syncs: [{ ...SYNC, source: { connection: 'a', entity: 'items' }, destination: { connection: 'b', entity: 'products' }, ...sync }] })
    return result.ok ? [] : result.errors.map((e) => `${e.path}: ${e.message}`)
  }

  it('accepts the plan above', () => {
    expect(errors({})).toEqual([])
  })

  it('refuses a transform without oneWay, filters, full mode (realtime is accepted), and destinationCursor on a one-way sync', () => {
    expect(errors({ mapping: { fields: [{ source: 'name', destination: 'label', transform: 'UPPER(name)' }] } })).toEqual([
      expect.stringMatching(/^syncs\[0\]\.mapping\.fields\[0\]\.transform: a two-way sync writes every field back to the source, but the transform 'UPPER\(name\)' cannot be undone.*oneWay: true/),
    ])
    expect(errors({ filters: [{ field: 'qty', op: '>', value: 1 }] })[0]).toMatch(/^syncs\[0\]\.filters: filters are not supported with direction two-way/)
    expect(errors({ mode: 'full' })[0]).toMatch(/^syncs\[0\]\.mode: direction two-way .* needs mode: incremental/)
    expect(errors({ mode: 'realtime' })).toEqual([])
    expect(errors({ direction: 'one-way' })).toEqual([expect.stringMatching(/^syncs\[0\]\.destinationCursor: destinationCursor applies to direction: two-way only/)])
    expect(errors({ keys: ['id'], mapping: { fields: [{ source: 'id', destination: 'id', oneWay: true }] } })[0]).toMatch(/key field 'id' .* cannot be one-way/)
    expect(errors({ conflictTies: 'left' as 'source' })[0]).toMatch(/^syncs\[0\]\.conflictTies/)
  })
})
