/**
 * `manager.watch()` against real change feeds: DESIGN §1.3 events with
 * exact values, transactions kept together, an async callback awaited
 * before the next event, a stop and a resume with `since` that sees every
 * change exactly once (also those committed while stopped), and the
 * retention of stopped watches' consumers. Writes come from another
 * connection than the watch's, as an application's would.
 */
import { join } from 'node:path'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ChangeEvent } from '../../src/engine/change-event.js'
import type { WatchHandle, WatchOptions } from '../../src/engine/watch.js'
import { decodeWatchPosition } from '../../src/engine/watch-position.js'
import { SynclineError } from '../../src/errors.js'
import { SyncManager } from '../../src/sync-manager.js'
import { openDatasource, type TestDatasource } from '../engine/datasources.js'
import { hasPostgres, tempDir } from '../helpers/services.js'

const pgAvailable = await hasPostgres()

/** How each source kind makes the test table and spells its values. */
interface SourceKind {
  kind: 'sqlite' | 'postgres'
  /** items (id, name, big, data): an integer key, text, a 64-bit integer, bytes. */
  ddl: string
  /** SQL for bytes 00 ff. */
  bytes: string
  /** Whether updates and deletes carry the row before (SQLite triggers; PostgreSQL with REPLICA IDENTITY FULL). */
  before: boolean
}

const KINDS: SourceKind[] = [
  {
    kind: 'sqlite',
    ddl: 'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, big INTEGER, data BLOB)',
    bytes: "X'00ff'",
    before: true,
  },
]
if (pgAvailable) {
  KINDS.push({
    kind: 'postgres',
    ddl: 'CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL, big bigint, data bytea); ALTER TABLE items REPLICA IDENTITY FULL',
    bytes: "'\\x00ff'::bytea",
    before: true,
  })
}

/** Events a callback received, with a way to wait for the next ones. */
class Received {
  readonly events: ChangeEvent[] = []
  private waiters: { count: number; resolve: () => void }[] = []

  readonly push = (event: ChangeEvent): void => {
    this.events.push(plainBytes(event))
    for (const w of [...this.waiters]) if (this.events.length >= w.count) w.resolve()
  }

  /** Wait until `count` events arrived in all (at most `timeoutMs`). */
  async until(count: number, timeoutMs = 10_000): Promise<ChangeEvent[]> {
    if (this.events.length < count) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`got ${this.events.length} of ${count} events: ${JSON.stringify(this.events.map((e) => `${e.type} ${e.recordId}`))}`)), timeoutMs)
        this.waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) })
      })
    }
    return this.events.slice(0, count)
  }
}

/** The event with Buffers as plain Uint8Arrays (bytes are either; toEqual tells them apart). */
function plainBytes(event: ChangeEvent): ChangeEvent {
  const row = (r: Record<string, unknown> | undefined) =>
    r && Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v instanceof Uint8Array ? new Uint8Array(v) : v]))
  const out = { ...event } as Record<string, unknown>
  for (const part of ['key', 'record', 'changes', 'before', 'previousKey'] as const) if (event[part] !== undefined) out[part] = row(event[part])
  return out as unknown as ChangeEvent
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/

for (const source of KINDS) {
  describe(`manager.watch on ${source.kind}`, () => {
    let db: TestDatasource
    let state: { path: string; remove: () => void }
    const managers: SyncManager[] = []
    const watches: WatchHandle[] = []

    beforeEach(async () => {
      db = await openDatasource(source.kind, 'shop')
      await db.exec(source.ddl)
      state = tempDir('syncline-watch-state-')
    })
    afterEach(async () => {
      for (const stop of watches.splice(0)) await stop().catch(() => undefined)
      for (const manager of managers.splice(0)) await manager.close()
      // A slot stays active for a moment after its reader closed, and DROP DATABASE refuses it then.
      for (let waited = 0; source.kind === 'postgres' && waited < 10_000; waited += 50) {
        const active = await db.query("SELECT 1 FROM pg_replication_slots WHERE database = current_database() AND active")
        if (active.length === 0) break
        await sleep(50)
      }
      await db.cleanup()
      state.remove()
    })

    async function open(env: NodeJS.ProcessEnv = {}): Promise<SyncManager> {
      const manager = await SyncManager.open({
        config: { state: join(state.path, 'state.db'), connections: { shop: { url: db.url } }, syncs: [] },
        baseDir: state.path,
        env,
      })
      managers.push(manager)
      return manager
    }

    /** Start a watch on items and wait until it is ready. */
    async function watch(manager: SyncManager, received: Received | ((event: ChangeEvent) => void | Promise<void>), opts: WatchOptions = {}): Promise<WatchHandle> {
      const stop = manager.watch('shop', 'items', received instanceof Received ? received.push : received, opts)
      watches.push(stop)
      await stop.ready
      return stop
    }

    it('delivers creates, updates and deletes as §1.3 events with exact values', async () => {
      const manager = await open()
      const received = new Received()
      const stop = await watch(manager, received)
      expect(stop.consumer).toMatch(/^watch_[0-9a-f]{8}$/)
      expect(stop.position).toMatch(new RegExp(`^${stop.consumer}\\.[A-Za-z0-9_-]+$`))

      await db.exec(`INSERT INTO items VALUES (1, 'first', 9007199254740993, ${source.bytes})`)
      await db.exec(`UPDATE items SET name = 'renamed' WHERE id = 1`)
      await db.exec(`DELETE FROM items WHERE id = 1`)
      const [create, update, remove] = await received.until(3)

      const record = { id: 1, name: 'first', big: 9007199254740993n, data: new Uint8Array([0, 255]) }
      const renamed = { ...record, name: 'renamed' }
      expect(create).toEqual({
        type: 'create', connection: 'shop', entity: 'items', recordId: '1', key: { id: 1 },
        record, changes: record, position: create!.position, committedAt: create!.committedAt,
      })
      expect(update).toEqual({
        type: 'update', connection: 'shop', entity: 'items', recordId: '1', key: { id: 1 },
        record: renamed, changes: source.before ? { name: 'renamed' } : renamed, ...(source.before ? { before: record } : {}),
        position: update!.position, committedAt: update!.committedAt,
      })
      expect(remove).toEqual({
        type: 'delete', connection: 'shop', entity: 'items', recordId: '1', key: { id: 1 },
        changes: {}, ...(source.before ? { before: renamed } : {}), position: remove!.position, committedAt: remove!.committedAt,
      })
      for (const event of [create!, update!, remove!]) {
        expect(event.position.startsWith(`${stop.consumer}.`)).toBe(true)
        if (event.committedAt !== undefined) expect(event.committedAt).toMatch(TIMESTAMP)
      }
      expect(new Set([create!.position, update!.position, remove!.position]).size).toBe(3)
      await stop()
      // The last event's position, or beyond it where the source moved on (a PostgreSQL commit or keepalive).
      expect(stop.position?.startsWith(`${stop.consumer}.`)).toBe(true)
    })

    it("keeps a multi-row transaction's events together and in order, across small batches", async () => {
      const manager = await open()
      const received = new Received()
      const stop = await watch(manager, received, { batchSize: 2 })
      if (source.kind === 'postgres') {
        // Two transactions interleaved statement by statement; the one that commits first comes first, whole.
        const [a, b] = [new pg.Client({ connectionString: db.url }), new pg.Client({ connectionString: db.url })]
        await a.connect()
        await b.connect()
        try {
          await a.query('BEGIN')
          await b.query('BEGIN')
          for (let i = 1; i <= 3; i++) {
            await a.query(`INSERT INTO items (id, name) VALUES (${i}, 'a${i}')`)
            await b.query(`INSERT INTO items (id, name) VALUES (${10 + i}, 'b${i}')`)
          }
          await b.query('COMMIT')
          await a.query('COMMIT')
        } finally {
          await a.end()
          await b.end()
        }
        expect((await received.until(6)).map((e) => e.recordId)).toEqual(['11', '12', '13', '1', '2', '3'])
      } else {
        await db.exec(`BEGIN; INSERT INTO items (id, name) VALUES (1, 'a1'); INSERT INTO items (id, name) VALUES (2, 'a2'); UPDATE items SET name = 'a1!' WHERE id = 1; INSERT INTO items (id, name) VALUES (3, 'a3'); DELETE FROM items WHERE id = 2; COMMIT`)
        await db.exec(`INSERT INTO items (id, name) VALUES (4, 'a4')`)
        expect((await received.until(6)).map((e) => `${e.type} ${e.recordId}`)).toEqual(['create 1', 'create 2', 'update 1', 'create 3', 'delete 2', 'create 4'])
      }
      await stop()
    })

    it('awaits an async callback before the next event, and a stop waits for the callback in progress', async () => {
      const manager = await open()
      let running = 0
      let overlapped = false
      const handled: string[] = []
      const stop = await watch(manager, async (event) => {
        running++
        if (running > 1) overlapped = true
        await sleep(40)
        handled.push(event.recordId)
        running--
      })
      await db.exec(`BEGIN; ${[1, 2, 3, 4, 5].map((id) => `INSERT INTO items (id, name) VALUES (${id}, 'n')`).join('; ')}; COMMIT`)
      while (handled.length < 2) await sleep(5)
      await stop() // the third callback is under way, or the second just returned
      const stoppedAfter = handled.length
      expect(running).toBe(0)
      expect(overlapped).toBe(false)
      expect(handled).toEqual(['1', '2', '3', '4', '5'].slice(0, stoppedAfter))
      expect(stoppedAfter).toBeLessThan(5)

      // The position is that of the last event handled: resuming delivers exactly the rest.
      const rest = new Received()
      const again = await watch(manager, rest, { since: stop.position! })
      expect(again.consumer).toBe(stop.consumer)
      expect((await rest.until(5 - stoppedAfter)).map((e) => e.recordId)).toEqual(['1', '2', '3', '4', '5'].slice(stoppedAfter))
      await sleep(300)
      expect(rest.events).toHaveLength(5 - stoppedAfter)
    })

    it('after stop, changes committed while stopped and later ones arrive exactly once with since', async () => {
      const manager = await open()
      const first = new Received()
      const stop = await watch(manager, first)
      for (let id = 1; id <= 3; id++) await db.exec(`INSERT INTO items (id, name) VALUES (${id}, 'n${id}')`)
      const seen = await first.until(3)
      await stop()

      // Committed while no watch runs; another watch in between (a new consumer) does not take them.
      for (let id = 4; id <= 6; id++) await db.exec(`INSERT INTO items (id, name) VALUES (${id}, 'n${id}')`)
      await db.exec(`UPDATE items SET name = 'changed' WHERE id = 2`)
      const other = await watch(await open(), new Received())
      await other()

      // Resumed from where the stopped watch says it is (its last event's position, or beyond it).
      const second = new Received()
      const resumed = await watch(await open(), second, { since: stop.position! })
      expect(resumed.consumer).toBe(stop.consumer)
      await db.exec(`INSERT INTO items (id, name) VALUES (7, 'n7')`)
      const rest = await second.until(5)
      expect(rest.map((e) => `${e.type} ${e.recordId}`)).toEqual(['create 4', 'create 5', 'create 6', 'update 2', 'create 7'])
      await sleep(300)
      expect(second.events).toHaveLength(5)
      expect(new Set([...seen, ...rest].map((e) => e.position)).size).toBe(8)
      await resumed()

      // The consumer is a released watch again, kept for the retention.
      const feeds = await manager.changeFeeds('shop')
      const feed = feeds?.feeds.find((f) => f.consumer === stop.consumer)
      expect(Date.now() - Date.parse(feed!.watch!.releasedAt!)).toBeLessThan(60_000)
      expect(Date.parse(feed!.watch!.dropsAfter!) - Date.parse(feed!.watch!.releasedAt!)).toBe(3600_000)
      expect(feed!.active).toBe(false)
      if (source.kind === 'postgres') {
        expect(feed!.lagBytes).toEqual(expect.any(Number))
        expect(feed!.retainedBytes).toEqual(expect.any(Number))
      }
    })

    if (source.kind === 'postgres') {
      it('resumes since the last event after writes to another table moved the slot past it; an older position is still lost', async () => {
        const manager = await open()
        const first = new Received()
        const stop = await watch(manager, first)
        for (let id = 1; id <= 2; id++) await db.exec(`INSERT INTO items (id, name) VALUES (${id}, 'n${id}')`)
        const [older, last] = await first.until(2)
        // A busy server: the watch acknowledges position-only moves, so the slot releases the WAL past the last event.
        await db.exec('CREATE TABLE other (id serial PRIMARY KEY)')
        const lastLsn = decodeWatchPosition(last!.position).position.split(':')[0]!
        for (let waited = 0; ; waited += 100) {
          if (waited > 30_000) throw new Error(`the slot's confirmed position did not move past the last event (${lastLsn})`)
          await db.exec('INSERT INTO other DEFAULT VALUES')
          const [slot] = await db.query<{ ahead: boolean }>('SELECT confirmed_flush_lsn > ?::pg_lsn AS ahead FROM pg_replication_slots WHERE slot_name = ?', [lastLsn, `syncline_${stop.consumer}`])
          if (slot?.ahead) break
          await sleep(100)
        }
        // The user kept only the last event's position (as after a crash); the handle's is not used.
        await stop()
        for (let id = 3; id <= 4; id++) await db.exec(`INSERT INTO items (id, name) VALUES (${id}, 'n${id}')`)

        // The safety check stands: before the last delivered event, the source no longer has what lies between.
        const lost = manager.watch('shop', 'items', () => undefined, { since: older!.position })
        watches.push(lost)
        await expect(lost.ready).rejects.toMatchObject({ code: 'POSITION_LOST' })

        const second = new Received()
        const resumed = await watch(await open(), second, { since: last!.position })
        expect(resumed.position).toBe(last!.position)
        await db.exec(`INSERT INTO items (id, name) VALUES (5, 'n5')`)
        expect((await second.until(3)).map((e) => `${e.type} ${e.recordId}`)).toEqual(['create 3', 'create 4', 'create 5'])
        await sleep(300)
        expect(second.events).toHaveLength(3)
        expect(new Set([...first.events, ...second.events].map((e) => e.position)).size).toBe(5)
      })
    }

    it('resumes since the last event after changes its filters left out were acknowledged, only with the same filters', async () => {
      const manager = await open()
      const filters: WatchOptions['filters'] = [{ field: 'name', op: '!=', value: 'hidden' }]
      const first = new Received()
      const stop = await watch(manager, first, { filters })
      await db.exec(`INSERT INTO items (id, name) VALUES (1, 'shown')`)
      const [last] = await first.until(1)
      await db.exec(`INSERT INTO items (id, name) VALUES (2, 'hidden')`)
      // The watch handled the left-out change once its position moved past the last event; stopping acknowledges it.
      for (let waited = 0; stop.position === last!.position; waited += 20) {
        if (waited > 10_000) throw new Error('the watch did not handle the left-out change')
        await sleep(20)
      }
      await stop()
      await db.exec(`INSERT INTO items (id, name) VALUES (3, 'shown')`)

      // Without those filters the change left out would be due, and the source released it: lost, never skipped.
      const unfiltered = manager.watch('shop', 'items', () => undefined, { since: last!.position })
      watches.push(unfiltered)
      await expect(unfiltered.ready).rejects.toMatchObject({ code: 'POSITION_LOST' })

      const second = new Received()
      await watch(manager, second, { since: last!.position, filters })
      expect((await second.until(1)).map((e) => `${e.type} ${e.recordId}`)).toEqual(['create 3'])
      await sleep(300)
      expect(second.events).toHaveLength(1)
    })

    it('ends with the error of a callback that throws; resuming delivers that event again, and nothing before it', async () => {
      const manager = await open()
      const failure = new Error('handler failed')
      const errors: Error[] = []
      const handled: ChangeEvent[] = []
      const stop = manager.watch('shop', 'items', (event) => {
        if (event.recordId === '3') throw failure
        handled.push(event)
      }, { onError: (e) => errors.push(e) })
      watches.push(stop)
      await stop.ready
      for (let id = 1; id <= 4; id++) await db.exec(`INSERT INTO items (id, name) VALUES (${id}, 'n${id}')`)
      await expect(stop.done).rejects.toBe(failure)
      await expect(stop()).rejects.toBe(failure)
      expect(errors).toEqual([failure])
      expect(handled.map((e) => e.recordId)).toEqual(['1', '2'])

      const rest = new Received()
      await watch(manager, rest, { since: stop.position! })
      expect((await rest.until(2)).map((e) => e.recordId)).toEqual(['3', '4'])
    })

    it('drops a released consumer after the retention; since it then fails with POSITION_LOST', async () => {
      const keeping = await open()
      const stop = await watch(keeping, new Received())
      await stop()
      const position = stop.position!
      // Another watch start within the retention keeps it.
      await (await watch(keeping, new Received()))()
      expect((await keeping.changeFeeds('shop'))!.feeds.map((f) => f.consumer)).toContain(stop.consumer)

      const short = await open({ SYNCLINE_WATCH_RETENTION: '1' })
      await sleep(1100)
      const next = await watch(short, new Received())
      const listed = (await short.changeFeeds('shop'))!.feeds.map((f) => f.consumer)
      expect(listed).not.toContain(stop.consumer)
      expect(listed).toContain(next.consumer)
      await next()

      const errors: Error[] = []
      const lost = short.watch('shop', 'items', () => undefined, { since: position, onError: (e) => errors.push(e) })
      watches.push(lost)
      const error = await lost.ready.catch((e: unknown) => e)
      expect(error).toBeInstanceOf(SynclineError)
      expect(error).toMatchObject({ code: 'POSITION_LOST' })
      expect((error as Error).message).toContain(stop.consumer)
      expect((error as Error).message).toMatch(/Start afresh without --since/)
      await expect(lost.done).rejects.toBe(error)
      expect(errors).toEqual([error])
    })

    it('refuses a position no watch handed out, and stops with manager.close()', async () => {
      const manager = await open()
      const bad = manager.watch('shop', 'items', () => undefined, { since: 'sync_orders.MC8x' })
      await expect(bad.ready).rejects.toMatchObject({ code: 'POSITION_INVALID' })
      await expect(bad.done).rejects.toMatchObject({ code: 'POSITION_INVALID' })
      await expect(manager.watch('shop', 'nope', () => undefined).done).rejects.toMatchObject({ code: 'ENTITY_NOT_FOUND' })

      const received = new Received()
      const stop = await watch(manager, received)
      await manager.close()
      await expect(stop.done).resolves.toBeUndefined()
      managers.splice(managers.indexOf(manager), 1)
    })
  })
}

describe('manager.watch on a connection without change capture', () => {
  it('fails with CAPABILITY_MISSING naming the connection', async () => {
    const dir = tempDir('syncline-watch-csv-')
    const manager = await SyncManager.open({ config: { state: join(dir.path, 'state.db'), connections: { files: { url: `csv:${dir.path}` } }, syncs: [] }, baseDir: dir.path })
    try {
      const stop = manager.watch('files', 'items', () => undefined)
      const error = await stop.done.catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 'CAPABILITY_MISSING', failure: 'config' })
      expect((error as Error).message).toMatch(/Connection 'files' \(csv\) cannot be watched/)
    } finally {
      await manager.close()
      dir.remove()
    }
  })
})
