/**
 * maxErrors in a two-way sync is one budget for the run: records rejected
 * by the destination and by the source add up.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { openDatasource, type TestDatasource } from '../datasources.js'
import { openManager } from '../sync-harness.js'
import { at, itemsSync } from './two-way-harness.js'

let sides: TestDatasource[] = []
afterEach(async () => {
  for (const side of sides) await side.cleanup()
  sides = []
})

describe('two-way maxErrors', () => {
  it('counts the rejections of both sides against one budget', async () => {
    const src = await openDatasource('sqlite', 'src')
    const dst = await openDatasource('sqlite', 'dst')
    sides = [src, dst]
    // Each side refuses a NULL the other allows: one row rejected per side.
    await src.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER NOT NULL, updated_at TIMESTAMP)')
    await dst.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER, updated_at TIMESTAMP)')
    await src.exec('INSERT INTO items VALUES (?, ?, ?, ?)', [1, 'fine', 1, at(1)])
    await src.exec('INSERT INTO items VALUES (?, ?, ?, ?)', [2, null, 2, at(2)])
    await dst.exec('INSERT INTO items VALUES (?, ?, ?, ?)', [3, 'no qty', null, at(3)])

    const two = await openManager(src, dst, [itemsSync({ maxErrors: 1 })])
    try {
      const result = await two.manager.run('items')
      expect(result).toMatchObject({ status: 'failed', errorCode: 'ERROR_BUDGET_EXCEEDED' })
      expect(result.error).toContain('2 record(s) rejected and maxErrors is 1')
    } finally {
      await two.cleanup()
    }
    const roomy = await openManager(src, dst, [itemsSync({ maxErrors: 2 })])
    try {
      // Each rejected record counted once, though the key pass meets it again.
      expect(await roomy.manager.run('items')).toMatchObject({ status: 'partial', failed: 2 })
      expect((await dst.query('SELECT id FROM items ORDER BY id')).map((r) => Number(r.id))).toEqual([1, 3])
    } finally {
      await roomy.cleanup()
    }
  })
})
