/**
 * An incremental destination that lost what the watermark says was
 * delivered is refilled by the next run, which says so in its notes; a
 * source field an earlier run mapped that is gone fails the run
 * (`SCHEMA_DRIFT`). SQLite source, PostgreSQL (and SQLite) destination.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import type { SyncPlanInput } from '../../src/plan/schema.js'
import { SyncManager } from '../../src/sync-manager.js'
import { hasPostgres } from '../helpers/services.js'
import { openDatasource, type TestDatasource } from './datasources.js'
import { openManager, readAll } from './sync-harness.js'

const pgAvailable = await hasPostgres()
const KINDS = (pgAvailable ? ['postgres', 'sqlite'] : ['sqlite']) as ('sqlite' | 'postgres')[]

let tables = 0
const sync = (entity: string, extra: Partial<SyncPlanInput> = {}): SyncPlanInput => ({
  id: 'items',
  source: { connection: 'src', entity },
  destination: { connection: 'dst', entity, create: true },
  mode: 'incremental',
  cursor: 'updated_at',
  batchSize: 3,
  ...extra,
})

for (const kind of KINDS) {
  describe(`refilling a ${kind} destination`, () => {
    let src: TestDatasource
    let dst: TestDatasource
    beforeAll(async () => {
      src = await openDatasource('sqlite', 'src')
      dst = await openDatasource(kind, 'dst')
    })
    afterAll(async () => {
      await src?.cleanup()
      await dst?.cleanup()
    })

    /** A new source table of `count` rows; its name. */
    async function items(count = 8): Promise<string> {
      const name = `items_${++tables}`
      await src.exec(`CREATE TABLE ${name} (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT NOT NULL)`)
      for (let id = 1; id <= count; id++) await src.exec(`INSERT INTO ${name} VALUES (?, ?, ?)`, [id, `item ${id}`, `2026-01-01T00:00:0${id}Z`])
      return name
    }
    const ids = async (entity: string) => (await readAll(dst, entity, ['id'])).map((r) => Number(r.id))
    const ALL = [1, 2, 3, 4, 5, 6, 7, 8]

    it('recreates a dropped table and copies everything again (a dry run says it would)', async () => {
      const entity = await items()
      const { manager, cleanup } = await openManager(src, dst, [sync(entity)])
      try {
        expect(await manager.run('items')).toMatchObject({ status: 'succeeded', created: 8 })
        await dst.exec(`DROP TABLE ${entity}`)
        const dry = await manager.run('items', { dryRun: true })
        expect(dry).toMatchObject({ status: 'succeeded', created: 8, notes: [expect.stringMatching(/a real run would create it again and refill it/)] })
        expect(await dst.query(kind === 'postgres' ? `SELECT to_regclass('${entity}') AS t` : `SELECT name AS t FROM sqlite_master WHERE name = '${entity}'`)).toEqual(
          kind === 'postgres' ? [{ t: null }] : [],
        )

        const again = await manager.run('items')
        expect(again).toMatchObject({ status: 'succeeded', created: 8, notes: [expect.stringMatching(new RegExp(`${entity} did not exist.*refilling it`))] })
        expect(await ids(entity)).toEqual(ALL)
        expect((await manager.history('items', 1))[0]?.notes).toEqual(again.notes)
        const later = await manager.run('items')
        expect(later).toMatchObject({ status: 'succeeded', created: 0 })
        expect(later.notes).toBeUndefined()
      } finally {
        await cleanup()
      }
    })

    it('refills a table emptied at the destination', async () => {
      const entity = await items()
      const { manager, cleanup } = await openManager(src, dst, [sync(entity)])
      try {
        await manager.run('items')
        await dst.exec(`DELETE FROM ${entity}`)
        const again = await manager.run('items')
        expect(again).toMatchObject({ status: 'succeeded', created: 8, notes: [expect.stringMatching(/holds 0 rows, but held 8/)] })
        expect(await ids(entity)).toEqual(ALL)
      } finally {
        await cleanup()
      }
    })

    it('with deletes: ignore, refills rows deleted at the destination, keeping rows deleted at the source', async () => {
      const entity = await items()
      const { manager, cleanup } = await openManager(src, dst, [sync(entity, { deletes: 'ignore' })])
      try {
        await manager.run('items')
        await src.exec(`DELETE FROM ${entity} WHERE id = 8`)
        expect(await manager.run('items')).toMatchObject({ status: 'succeeded', deleted: 0 })
        await src.exec(`INSERT INTO ${entity} VALUES (9, 'item 9', '2026-01-01T00:00:09Z')`)
        await dst.exec(`DELETE FROM ${entity} WHERE id IN (2, 5)`)
        const again = await manager.run('items')
        expect(again).toMatchObject({ status: 'succeeded', created: 3, deleted: 0, notes: [expect.stringMatching(/holds 6 rows, but held 8/)] })
        expect(await ids(entity)).toEqual([...ALL, 9])
      } finally {
        await cleanup()
      }
    })

    it('copies keys the key pass finds missing, though another writer kept the row count up', async () => {
      const entity = await items()
      const { manager, cleanup } = await openManager(src, dst, [sync(entity, { filters: [{ field: 'id', op: '<=', value: 7 }] })])
      try {
        expect(await manager.run('items')).toMatchObject({ created: 7 })
        await dst.exec(`DELETE FROM ${entity} WHERE id IN (3, 6)`)
        await dst.exec(`INSERT INTO ${entity} (id, name, updated_at) VALUES (100, 'other writer', 'x'), (101, 'other writer', 'x')`)
        const again = await manager.run('items')
        expect(again).toMatchObject({ status: 'succeeded', created: 2, deleted: 2, notes: [expect.stringMatching(/2 source row\(s\) were missing/)] })
        expect(await ids(entity)).toEqual([1, 2, 3, 4, 5, 6, 7])
        expect(await manager.run('items')).toMatchObject({ created: 0, deleted: 0 })
      } finally {
        await cleanup()
      }
    })

    it('fails naming the field when a source column an earlier run mapped was renamed, with full: true too', async () => {
      const entity = await items(3)
      const first = await openManager(src, dst, [sync(entity)])
      const statePath = join(first.dir, 'state.db')
      try {
        await first.manager.run('items')
        await src.exec(`ALTER TABLE ${entity} RENAME COLUMN name TO title`)
        for (const full of [false, true]) {
          const result = await first.manager.run('items', { full })
          expect(result).toMatchObject({ status: 'failed', errorCode: 'SCHEMA_DRIFT', failure: 'config', read: 0 })
          expect(result.error).toContain(`source field 'name' is gone from src.${entity}`)
          expect(result.error).toContain('{ source: title, destination: name }')
        }
        await first.manager.close()

        // Renamed at the destination too: nothing goes stale, so no drift.
        // (A new manager on the same state, as a new `syncline run` would be.)
        await dst.exec(`ALTER TABLE ${entity} RENAME COLUMN name TO title`)
        const again = await SyncManager.open({
          config: { state: statePath, connections: { src: { url: src.url }, dst: { url: dst.url } }, syncs: [sync(entity)] },
          baseDir: first.dir,
        })
        try {
          const result = await again.run('items', { full: true })
          expect(result, result.error).toMatchObject({ status: 'succeeded', unchanged: 3 })
          expect(await again.run('items')).toMatchObject({ status: 'succeeded' })
        } finally {
          await again.close()
        }
      } finally {
        await first.cleanup()
      }
    })
  })
}
