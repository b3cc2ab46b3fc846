/**
 * Realtime syncs (`mode: realtime`) from SQLite (trigger change capture)
 * and PostgreSQL (logical replication) sources into SQLite and PostgreSQL: the initial snapshot comparison, then
 * creates, updates and deletes streamed; filters, transforms, mapping and
 * soft deletes applied as in the other modes; rejected records; a stop that
 * saves the position; and a resume that loses and doubles nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Progress } from '../../src/engine/progress.js'
import type { SyncResult } from '../../src/engine/run-sync.js'
import type { SyncPlanInput } from '../../src/plan/schema.js'
import type { SyncManager } from '../../src/sync-manager.js'
import type { Row } from '../../src/values/canonical.js'
import { createConnector } from '../../src/connectors/registry.js'
import { consumerName } from '../../src/engine/consumer-name.js'
import { hasPostgres } from '../helpers/services.js'
import { openDatasource, type DatasourceKind, type TestDatasource } from './datasources.js'
import { openManager, readAll } from './sync-harness.js'

const pgAvailable = await hasPostgres()
const KINDS: DatasourceKind[] = pgAvailable ? ['sqlite', 'postgres'] : ['sqlite']
// SQLite captures with triggers, PostgreSQL with logical replication.
const PAIRS = KINDS.flatMap((source) => KINDS.map((destination) => [source, destination] as const))

/** A realtime run in the background: resolves `streaming` once its snapshot comparison is done. */
function startStreaming(manager: SyncManager, id: string): { stop: () => Promise<SyncResult>; result: Promise<SyncResult>; streaming: Promise<void>; progress: Progress[] } {
  const controller = new AbortController()
  const progress: Progress[] = []
  let onStream: () => void = () => undefined
  const streaming = new Promise<void>((resolve) => (onStream = resolve))
  const result = manager.run(id, {
    signal: controller.signal,
    onProgress: (p) => {
      progress.push(p)
      if (p.phase === 'stream') onStream()
    },
  })
  // A run that ends early (a failure) must not leave the test waiting for the stream.
  void result.then((r) => {
    onStream()
    return r
  })
  return {
    streaming,
    result,
    progress,
    stop: async () => {
      controller.abort()
      return result
    },
  }
}

/** Wait until `check` passes (it throws otherwise), at most `ms`. */
async function eventually(check: () => Promise<void>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms
  for (;;) {
    try {
      await check()
      return
    } catch (error) {
      if (Date.now() > until) throw error
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }
}

const itemsSync = (extra: Partial<SyncPlanInput> = {}): SyncPlanInput => ({
  id: 'items-live',
  source: { connection: 'src', entity: 'items' },
  destination: { connection: 'dst', entity: 'items', create: true },
  mode: 'realtime',
  batchSize: 50,
  ...extra,
})

const byId = (rows: Row[]) => [...rows].sort((a, b) => Number(a.id) - Number(b.id))

for (const [sourceKind, destinationKind] of PAIRS) {
  describe(`realtime sync ${sourceKind} → ${destinationKind}`, () => {
    let src: TestDatasource
    let dst: TestDatasource
    beforeAll(async () => {
      src = await openDatasource(sourceKind, 'src')
      dst = await openDatasource(destinationKind, 'dst')
    })
    afterAll(async () => {
      await src?.cleanup()
      await dst?.cleanup()
    })

    it('copies the rows at the snapshot, streams creates, updates and deletes, and stops succeeded with its position saved', async () => {
      await src.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER)')
      for (let id = 1; id <= 120; id++) await src.exec('INSERT INTO items VALUES (?, ?, ?)', [id, `item ${id}`, id])
      const { manager, cleanup } = await openManager(src, dst, [itemsSync()])
      try {
        const run = startStreaming(manager, 'items-live')
        await run.streaming
        expect(await readAll(dst, 'items', ['id'])).toHaveLength(120)

        await src.exec('INSERT INTO items VALUES (?, ?, ?)', [121, 'new one', 5])
        await src.exec(`UPDATE items SET name = 'renamed' WHERE id = 7`)
        await src.exec('DELETE FROM items WHERE id IN (3, 4)')
        // A multi-row transaction, touching one key twice.
        await src.exec(`BEGIN; UPDATE items SET qty = 0 WHERE id <= 10; UPDATE items SET qty = 99 WHERE id = 1; COMMIT`)
        await eventually(async () => expect(await readAll(dst, 'items', ['id'])).toEqual(await readAll(src, 'items', ['id'])))

        const result = await run.stop()
        expect(result).toMatchObject({ status: 'succeeded', mode: 'realtime', created: 121, deleted: 2, failed: 0 })
        expect(result.error).toBeUndefined()
        expect(run.progress.some((p) => p.phase === 'stream' && p.lagSeconds !== undefined)).toBe(true)
        const [status] = (await manager.status()).filter((s) => s.syncId === 'items-live')
        expect(status?.stream).toMatchObject({ consumer: expect.stringMatching(/^sync_items_live_[0-9a-f]{6}$/), position: expect.any(String) })
        // Caught up: 0 where the source counts what is pending (a change log); PostgreSQL's WAL moves on
        // with every other write, so there it is the time since the stream last heard from the source.
        if (sourceKind === 'sqlite') expect(status?.stream?.lagSeconds).toBe(0)
        else expect(status?.stream?.lagSeconds).toBeLessThan(2)

        // Forgetting the sync drops its consumer at the source too.
        const consumers = async () => {
          const other = await createConnector({ name: 'other', url: src.url })
          return (await other.listChangeFeeds!().finally(() => other.close())).map((f) => f.consumer)
        }
        expect(await consumers()).toContain(consumerName('items-live'))
        await manager.forget('items-live')
        expect(await consumers()).not.toContain(consumerName('items-live'))
        expect((await manager.status()).find((s) => s.syncId === 'items-live')).toBeUndefined()
      } finally {
        await manager.forget('items-live').catch(() => undefined)
        await cleanup()
        await src.exec('DROP TABLE IF EXISTS items')
        await dst.exec('DROP TABLE IF EXISTS items')
      }
    })

    it('resumes from the saved position: changes made while stopped arrive, nothing is applied twice', async () => {
      await src.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER)')
      for (let id = 1; id <= 20; id++) await src.exec('INSERT INTO items VALUES (?, ?, ?)', [id, `item ${id}`, id])
      const { manager, cleanup } = await openManager(src, dst, [itemsSync()])
      try {
        const first = startStreaming(manager, 'items-live')
        await first.streaming
        await src.exec(`UPDATE items SET qty = qty + 1 WHERE id = 1`)
        await eventually(async () => expect((await readAll(dst, 'items', ['id']))[0]).toMatchObject({ id: 1, qty: 2 }))
        expect((await first.stop()).status).toBe('succeeded')

        // While stopped: five changes.
        await src.exec('INSERT INTO items VALUES (?, ?, ?)', [21, 'while stopped', 1])
        await src.exec(`UPDATE items SET qty = qty + 1 WHERE id = 1`)
        await src.exec(`UPDATE items SET name = 'x' WHERE id = 2`)
        await src.exec('DELETE FROM items WHERE id = 3')
        await src.exec(`UPDATE items SET qty = qty + 1 WHERE id = 1`)

        const second = startStreaming(manager, 'items-live')
        await second.streaming
        await eventually(async () => expect(await readAll(dst, 'items', ['id'])).toEqual(await readAll(src, 'items', ['id'])))
        const result = await second.stop()
        // Exactly the five changes: no snapshot again, no change of the first run replayed.
        expect(result).toMatchObject({ status: 'succeeded', read: 5, created: 1, deleted: 1, unchanged: 0 })
        expect((await readAll(dst, 'items', ['id']))[0]).toMatchObject({ id: 1, qty: 4 })
      } finally {
        await manager.forget('items-live').catch(() => undefined)
        await cleanup()
        await src.exec('DROP TABLE IF EXISTS items')
        await dst.exec('DROP TABLE IF EXISTS items')
      }
    })

    it('repairs a lost position (consumer dropped while stopped, or while streaming) by comparing a fresh snapshot, not by reloading', async () => {
      await src.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER)')
      for (let id = 1; id <= 30; id++) await src.exec('INSERT INTO items VALUES (?, ?, ?)', [id, `item ${id}`, id])
      const { manager, cleanup } = await openManager(src, dst, [itemsSync()])
      const dropConsumer = async () => {
        const other = await createConnector({ name: 'other', url: src.url })
        await other.dropChangeFeed!(consumerName('items-live')).finally(() => other.close())
      }
      try {
        const first = startStreaming(manager, 'items-live')
        await first.streaming
        expect((await first.stop()).status).toBe('succeeded')

        // Lost while stopped: the changes made meanwhile are in no log the sync can read.
        await dropConsumer()
        await src.exec(`UPDATE items SET name = 'changed' WHERE id = 5`)
        await src.exec('DELETE FROM items WHERE id = 6')
        const second = startStreaming(manager, 'items-live')
        await second.streaming
        expect(await readAll(dst, 'items', ['id'])).toEqual(await readAll(src, 'items', ['id']))

        // Lost while streaming (a trigger change log's consumer can be dropped under a reading feed; a
        // PostgreSQL slot cannot while a feed reads it): detected at the next read or acknowledgement, repaired the same way.
        if (sourceKind === 'sqlite') {
          await dropConsumer()
          await src.exec(`UPDATE items SET qty = -1 WHERE id = 7`)
          await eventually(async () => expect(await readAll(dst, 'items', ['id'])).toEqual(await readAll(src, 'items', ['id'])))
        }
        await src.exec(`UPDATE items SET qty = -2 WHERE id = 8`)
        await eventually(async () => expect(await readAll(dst, 'items', ['id'])).toEqual(await readAll(src, 'items', ['id'])))
        const result = await second.stop()
        expect(result.status).toBe('succeeded')
        expect(result.notes?.[0]).toMatch(/could no longer be served .*compared with the destination by key and row/)
        const repairs = sourceKind === 'sqlite' ? 2 : 1
        expect(result.notes).toHaveLength(repairs)
        // Only differences were written: 28 rows compared unchanged in each repair.
        expect(result).toMatchObject({ updated: repairs + 1, deleted: 1, created: 0, unchanged: 28 * repairs })
      } finally {
        await manager.forget('items-live').catch(() => undefined)
        await cleanup()
        await src.exec('DROP TABLE IF EXISTS items')
        await dst.exec('DROP TABLE IF EXISTS items')
      }
    })

    if (sourceKind === destinationKind) it('runs a batch sync to its end while a realtime sync streams beside it, both reported once stopped', async () => {
      await src.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)')
      await src.exec(`INSERT INTO items VALUES (1, 'a'), (2, 'b')`)
      const batch: SyncPlanInput = { id: 'items-copy', source: { connection: 'src', entity: 'items' }, destination: { connection: 'dst', entity: 'items_copy', create: true } }
      const { manager, cleanup } = await openManager(src, dst, [itemsSync(), batch])
      try {
        const controller = new AbortController()
        const done = new Set<string>()
        let streaming = false
        const results = manager.runMany(['items-live', 'items-copy'], {
          signal: controller.signal,
          onProgress: (p) => {
            if (p.phase === 'done') done.add(p.syncId)
            if (p.phase === 'stream') streaming = true
          },
        })
        await eventually(async () => expect(streaming && done.has('items-copy')).toBe(true))
        await src.exec(`INSERT INTO items VALUES (3, 'c')`)
        await eventually(async () => expect(await readAll(dst, 'items', ['id'])).toHaveLength(3))
        expect(done.has('items-live')).toBe(false)
        controller.abort()
        expect((await results).map((r) => [r.id, r.status, r.created])).toEqual([
          ['items-live', 'succeeded', 3],
          ['items-copy', 'succeeded', 2],
        ])
      } finally {
        await manager.forget('items-live').catch(() => undefined)
        await cleanup()
        await src.exec('DROP TABLE IF EXISTS items')
        await dst.exec('DROP TABLE IF EXISTS items')
        await dst.exec('DROP TABLE IF EXISTS items_copy')
      }
    })

    if (sourceKind === 'postgres' && destinationKind === 'sqlite') it('reconnects after the replication connection is lost (within retries), and fails with the code past them', async () => {
      await src.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)')
      await src.exec(`INSERT INTO items VALUES (1, 'a')`)
      // Once the feed streams (its slot active), end its server process.
      const cut = () =>
        eventually(async () => {
          const ended = await src.query(`SELECT pg_terminate_backend(active_pid) AS ok FROM pg_replication_slots WHERE slot_name LIKE '%' || ? AND active_pid IS NOT NULL`, [consumerName('items-live')])
          expect(ended).toEqual([{ ok: true }])
        })
      const { manager, cleanup } = await openManager(src, dst, [itemsSync({ retries: 2 })])
      try {
        const run = startStreaming(manager, 'items-live')
        await run.streaming
        await cut()
        await src.exec(`INSERT INTO items VALUES (2, 'b')`)
        await eventually(async () => expect(await readAll(dst, 'items', ['id'])).toHaveLength(2))
        const result = await run.stop()
        expect(result).toMatchObject({ status: 'succeeded', created: 2 })
        expect(result.notes?.join('\n')).toMatch(/reconnected 1 time\(s\) after transient errors \(last: Lost the replication connection.*resumed from its saved position/)
      } finally {
        await cleanup()
      }
      const strict = await openManager(src, dst, [itemsSync({ retries: 0 })])
      try {
        const run = startStreaming(strict.manager, 'items-live')
        await run.streaming
        await cut()
        expect(await run.result).toMatchObject({ status: 'failed', errorCode: 'CONNECTION_LOST', failure: 'transient' })
        await strict.manager.forget('items-live')
      } finally {
        await strict.cleanup()
        await src.exec('DROP TABLE IF EXISTS items')
        await dst.exec('DROP TABLE IF EXISTS items')
      }
    })

    it('refills a destination that lost its rows while the sync was stopped (dropped, emptied) by comparing, then streams', async () => {
      await src.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)')
      await src.exec(`INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')`)
      const { manager, cleanup } = await openManager(src, dst, [itemsSync()])
      try {
        const first = startStreaming(manager, 'items-live')
        await first.streaming
        expect((await first.stop()).status).toBe('succeeded')

        await dst.exec('DROP TABLE items')
        await src.exec(`INSERT INTO items VALUES (4, 'd')`)
        const second = startStreaming(manager, 'items-live')
        await second.streaming
        expect(await readAll(dst, 'items', ['id'])).toEqual(await readAll(src, 'items', ['id']))
        const recreated = await second.stop()
        expect(recreated.notes?.[0]).toMatch(/did not exist .*refilling it by a full compare/)

        await dst.exec('DELETE FROM items WHERE id > 1')
        const third = startStreaming(manager, 'items-live')
        await third.streaming
        expect(await readAll(dst, 'items', ['id'])).toEqual(await readAll(src, 'items', ['id']))
        const refilled = await third.stop()
        expect(refilled).toMatchObject({ created: 3, unchanged: 1 })
        expect(refilled.notes?.[0]).toMatch(/holds 1 rows, but held 4 rows after the last run/)
      } finally {
        await manager.forget('items-live').catch(() => undefined)
        await cleanup()
        await src.exec('DROP TABLE IF EXISTS items')
        await dst.exec('DROP TABLE IF EXISTS items')
      }
    })

    it('a dry run compares and ends, writing nothing and creating no consumer at the source', async () => {
      await src.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)')
      await src.exec(`INSERT INTO items VALUES (1, 'a'), (2, 'b')`)
      const { manager, cleanup } = await openManager(src, dst, [itemsSync()])
      try {
        const result = await manager.run('items-live', { dryRun: true })
        expect(result).toMatchObject({ status: 'succeeded', dryRun: true, created: 2 })
        const other = await createConnector({ name: 'other', url: src.url })
        const feeds = await other.listChangeFeeds!().finally(() => other.close())
        expect(feeds.map((f) => f.consumer)).not.toContain(consumerName('items-live'))
        expect((await manager.status()).find((s) => s.syncId === 'items-live')?.stream).toBeUndefined()
      } finally {
        await cleanup()
        await src.exec('DROP TABLE IF EXISTS items')
      }
    })

    it('applies mapping, transforms, filters (a row that stops matching is deleted) and the soft-delete field to streamed changes', async () => {
      await src.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, status TEXT, deleted_at TEXT)')
      await src.exec(`INSERT INTO items VALUES (1, 'apple', 'active', NULL), (2, 'pear', 'hidden', NULL), (3, 'plum', 'active', NULL)`)
      const sync = itemsSync({
        filters: [{ field: 'status', op: 'in', value: ['active', 'new'] }],
        softDelete: 'deleted_at',
        mapping: { auto: false, fields: [{ source: 'id', destination: 'id' }, { destination: 'label', transform: "CONCAT(UPPER(name), '-', id)" }, { source: 'status', destination: 'state' }] },
      })
      const { manager, cleanup } = await openManager(src, dst, [sync])
      try {
        const run = startStreaming(manager, 'items-live')
        await run.streaming
        expect(byId(await readAll(dst, 'items', ['id']))).toEqual([
          { id: 1, label: 'APPLE-1', state: 'active' },
          { id: 3, label: 'PLUM-3', state: 'active' },
        ])
        await src.exec(`UPDATE items SET status = 'hidden' WHERE id = 1`) // stops matching: deleted
        await src.exec(`UPDATE items SET status = 'new', name = 'pear!' WHERE id = 2`) // starts matching: created
        await src.exec(`UPDATE items SET deleted_at = '2026-01-01' WHERE id = 3`) // soft-deleted
        await src.exec(`INSERT INTO items VALUES (4, 'fig', 'hidden', NULL), (5, 'kiwi', 'new', NULL)`) // only 5 matches
        await src.exec(`UPDATE items SET name = 'figs' WHERE id = 4`) // never matched: nothing
        await eventually(async () =>
          expect(byId(await readAll(dst, 'items', ['id']))).toEqual([
            { id: 2, label: 'PEAR!-2', state: 'new' },
            { id: 5, label: 'KIWI-5', state: 'new' },
          ]),
        )
        expect((await run.stop()).status).toBe('succeeded')
      } finally {
        await manager.forget('items-live').catch(() => undefined)
        await cleanup()
        await src.exec('DROP TABLE IF EXISTS items')
        await dst.exec('DROP TABLE IF EXISTS items')
      }
    })

    it('records a rejected change as a record error and streams on within maxErrors; past it the run fails', async () => {
      await src.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)')
      await src.exec(`INSERT INTO items VALUES (1, 'a')`)
      // The destination refuses a NULL name.
      await dst.exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`)
      const { manager, cleanup } = await openManager(src, dst, [itemsSync({ destination: { connection: 'dst', entity: 'items' }, maxErrors: 1 })])
      try {
        const run = startStreaming(manager, 'items-live')
        await run.streaming
        await src.exec(`INSERT INTO items VALUES (2, NULL)`)
        await src.exec(`INSERT INTO items VALUES (3, 'c')`)
        await eventually(async () => expect((await readAll(dst, 'items', ['id'])).map((r) => r.id)).toEqual([1, 3]))
        const partial = await run.stop()
        expect(partial).toMatchObject({ status: 'partial', failed: 1, created: 2 })
        const [rejected] = await manager.recordErrors({ syncId: 'items-live' })
        expect(rejected).toMatchObject({ recordId: '2', operation: 'create' })
        expect(rejected?.reason).toMatch(/name/)

        // A second and third rejection in one run exceed maxErrors: 1.
        const again = startStreaming(manager, 'items-live')
        await again.streaming
        await src.exec(`INSERT INTO items VALUES (4, NULL)`)
        await src.exec(`INSERT INTO items VALUES (5, NULL)`)
        // The run ends by itself, without a stop.
        expect(await again.result).toMatchObject({ status: 'failed', errorCode: 'ERROR_BUDGET_EXCEEDED', failed: 2 })
      } finally {
        await manager.forget('items-live').catch(() => undefined)
        await cleanup()
        await src.exec('DROP TABLE IF EXISTS items')
        await dst.exec('DROP TABLE IF EXISTS items')
      }
    })
  })
}
