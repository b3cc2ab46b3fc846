/**
 * Several syncs into tables linked by foreign keys: parents are written
 * before children and deleted after them, whatever order the plan lists.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parentsFirst } from '../../src/engine/run-syncs.js'
import type { SyncPlanInput } from '../../src/plan/schema.js'
import { hasPostgres } from '../helpers/services.js'
import { openDatasource, type TestDatasource } from './datasources.js'
import { openManager, readAll } from './sync-harness.js'

const pgAvailable = await hasPostgres()

describe.skipIf(!pgAvailable)('foreign-key order across syncs', () => {
  let src: TestDatasource
  let dst: TestDatasource
  beforeAll(async () => {
    src = await openDatasource('sqlite', 'src')
    dst = await openDatasource('postgres')
    await src.exec(`CREATE TABLE artists (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`)
    await src.exec(`CREATE TABLE albums (id INTEGER PRIMARY KEY, artist_id INTEGER NOT NULL REFERENCES artists, title TEXT NOT NULL)`)
    await src.exec(`CREATE TABLE tracks (id INTEGER PRIMARY KEY, album_id INTEGER NOT NULL REFERENCES albums, title TEXT NOT NULL)`)
    await dst.exec(`CREATE TABLE artists (id bigint PRIMARY KEY, name text NOT NULL)`)
    await dst.exec(`CREATE TABLE albums (id bigint PRIMARY KEY, artist_id bigint NOT NULL REFERENCES artists, title text NOT NULL)`)
    await dst.exec(`CREATE TABLE tracks (id bigint PRIMARY KEY, album_id bigint NOT NULL REFERENCES albums, title text NOT NULL)`)
    for (let i = 1; i <= 5; i++) {
      await src.exec(`INSERT INTO artists VALUES (?, ?)`, [i, `artist ${i}`])
      await src.exec(`INSERT INTO albums VALUES (?, ?, ?)`, [i, i, `album ${i}`])
      await src.exec(`INSERT INTO tracks VALUES (?, ?, ?)`, [i, i, `track ${i}`])
    }
  })
  afterAll(async () => {
    await src?.cleanup()
    await dst?.cleanup()
  })

  // Listed children first on purpose.
  const syncs: SyncPlanInput[] = ['tracks', 'albums', 'artists'].map((t) => ({ id: t, source: { connection: 'src', entity: t }, destination: { connection: 'dst', entity: t } }))

  it('inserts parents before children', async () => {
    const { manager, cleanup } = await openManager(src, dst, syncs)
    try {
      const results = await manager.runMany()
      expect(results.map((r) => [r.id, r.status, r.created])).toEqual([
        ['tracks', 'succeeded', 5],
        ['albums', 'succeeded', 5],
        ['artists', 'succeeded', 5],
      ])
    } finally {
      await cleanup()
    }
  })

  it('deletes children before parents', async () => {
    await src.exec(`DELETE FROM tracks WHERE album_id IN (2, 3)`)
    await src.exec(`DELETE FROM albums WHERE artist_id IN (2, 3)`)
    await src.exec(`DELETE FROM artists WHERE id IN (2, 3)`)
    const { manager, cleanup } = await openManager(src, dst, syncs)
    try {
      const results = await manager.runMany()
      expect(results.map((r) => [r.id, r.status, r.deleted])).toEqual([
        ['tracks', 'succeeded', 2],
        ['albums', 'succeeded', 2],
        ['artists', 'succeeded', 2],
      ])
      expect((await readAll(dst, 'artists', ['id'])).map((r) => r.id)).toEqual([1, 4, 5])
    } finally {
      await cleanup()
    }
  })
})

describe('parentsFirst', () => {
  const entity = (name: string, parents: string[] = []) => ({
    destination: { name: 'dst' },
    destinationEntity: { name, fields: [], primaryKey: ['id'], uniqueKeys: [], foreignKeys: parents.map((p) => ({ fields: [`${p}_id`], references: { entity: p, fields: ['id'] } })) },
  })

  it('orders a chain and keeps plan order without links or in a cycle', () => {
    type Prepared = Parameters<typeof parentsFirst>[0][number]
    const chain = [entity('c', ['b']), entity('b', ['a']), entity('a')] as unknown as Prepared[]
    expect(parentsFirst(chain)).toEqual({ order: [2, 1, 0], linked: true })
    const none = [entity('x'), entity('y')] as unknown as Prepared[]
    expect(parentsFirst(none)).toEqual({ order: [0, 1], linked: false })
    const cycle = [entity('p', ['q']), entity('q', ['p'])] as unknown as Prepared[]
    expect(parentsFirst(cycle).order.sort()).toEqual([0, 1])
  })
})
