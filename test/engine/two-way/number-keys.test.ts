/**
 * Two-way sync keyed by a decimal or a float, PostgreSQL <-> SQLite: the
 * base keeps such keys in their order-preserving encoding, `1.50` from
 * PostgreSQL and `1.5` from SQLite are one key, and each side's inserts,
 * updates and deletes (found by the key pass) reach the other.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { TestDatasource } from '../datasources.js'
import { openDatasource } from '../datasources.js'
import { openManager, readAll } from '../sync-harness.js'
import { at, itemsSync } from './two-way-harness.js'

let sides: TestDatasource[] = []
afterEach(async () => {
  for (const side of sides) await side.cleanup()
  sides = []
})

/** Both sides' rows as (key as a number, name), key order. */
async function rows(ds: TestDatasource): Promise<[number, string][]> {
  return (await readAll(ds, 'k', ['code'])).map((r) => [Number(r.code), String(r.name)])
}

async function roundTrip(pgType: string, sqliteType: string, keys: { src: string[]; dst: string[]; edited: string; deleted: string }): Promise<void> {
  const src = await openDatasource('postgres', 'src')
  const dst = await openDatasource('sqlite', 'dst')
  sides = [src, dst]
  await src.exec(`CREATE TABLE k (code ${pgType} PRIMARY KEY, name text NOT NULL, updated_at timestamptz)`)
  await dst.exec(`CREATE TABLE k (code ${sqliteType} PRIMARY KEY, name TEXT NOT NULL, updated_at TIMESTAMP)`)
  for (const [i, code] of keys.src.entries()) await src.exec('INSERT INTO k VALUES (?, ?, ?)', [code, `s${i}`, at(i)])
  for (const [i, code] of keys.dst.entries()) await dst.exec('INSERT INTO k VALUES (?, ?, ?)', [code, `d${i}`, at(i)])
  const { manager, cleanup } = await openManager(src, dst, [itemsSync({ id: 'k', source: { connection: 'src', entity: 'k' }, destination: { connection: 'dst', entity: 'k' }, batchSize: 2 })])
  try {
    expect(await manager.run('k')).toMatchObject({ status: 'succeeded', created: keys.src.length + keys.dst.length, conflicts: 0 })
    expect(await rows(src)).toEqual(await rows(dst))
    expect(await rows(src)).toHaveLength(keys.src.length + keys.dst.length)
    // Idle: keys spelled differently on each side (1.50 / 1.5) are still one key each.
    expect(await manager.run('k')).toMatchObject({ status: 'succeeded', created: 0, updated: 0, deleted: 0 })

    await src.exec('UPDATE k SET name = ?, updated_at = ? WHERE code = ?', ['edited at source', at(100), keys.edited])
    await dst.exec('DELETE FROM k WHERE code = ?', [keys.deleted])
    expect(await manager.run('k')).toMatchObject({ status: 'succeeded', created: 0, updated: 1, deleted: 1, conflicts: 0 })
    const after = await rows(src)
    expect(after).toEqual(await rows(dst))
    expect(after.find(([code]) => code === Number(keys.edited))?.[1]).toBe('edited at source')
    expect(after.map(([code]) => code)).not.toContain(Number(keys.deleted))
    expect(await manager.run('k')).toMatchObject({ created: 0, updated: 0, deleted: 0 })
  } finally {
    await cleanup()
  }
}

describe('two-way sync with number keys', () => {
  it('decimal keys: exact, by value whatever the scale, negative and fractional ones included', async () => {
    await roundTrip('numeric(8,2)', 'NUMERIC(8,2)', { src: ['1.50', '-2.25', '10.00', '0.05'], dst: ['3.5', '-0.75'], edited: '1.5', deleted: '-2.25' })
  })

  it('float keys: negative, fractional and large ones', async () => {
    await roundTrip('double precision', 'REAL', { src: ['0.5', '-1.25', '1e10'], dst: ['2.75', '-1e-3'], edited: '0.5', deleted: '2.75' })
  })
})
