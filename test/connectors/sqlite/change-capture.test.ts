/**
 * SQLite change capture beyond the conformance suite: writes by another
 * process (the sqlite3 shell, which has none of syncline's functions),
 * values of every storage class in any column, key changes, ALTER TABLE,
 * pruning after acknowledgements, and what dropping the last consumer
 * leaves behind (nothing).
 */
import Database from 'better-sqlite3'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ChangeFeed, ChangeFeedOptions } from '../../../src/connectors/change-feed.js'
import type { Connector } from '../../../src/connectors/connector.js'
import { ChangeWaker } from '../../../src/connectors/sqlite/change-waker.js'
import { createSqliteConnector } from '../../../src/connectors/sqlite/connector.js'
import { SynclineError } from '../../../src/errors.js'
import type { Row } from '../../../src/values/canonical.js'
import { FeedReader, shape } from '../../conformance/feed-reader.js'
import { rejection } from '../../conformance/fixtures.js'
import { tempDir } from '../../helpers/services.js'

let dir: ReturnType<typeof tempDir>
let path: string
let raw: Database.Database
let connector: Connector
const feeds: ChangeFeed[] = []
const others: Connector[] = []

beforeEach(() => {
  dir = tempDir('syncline-sqlite-cdc-')
  path = join(dir.path, 'shop.db')
  // A plain connection, as another program has: no syncline functions registered.
  raw = new Database(path)
  raw.defaultSafeIntegers(true)
  raw.pragma('journal_mode = WAL')
  raw.exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, i INTEGER, r REAL, x, t TEXT, b BLOB)`)
  connector = createSqliteConnector({ name: 'shop', url: `sqlite:${path}` })
})

afterEach(async () => {
  for (const feed of feeds.splice(0)) await feed.close()
  for (const other of others.splice(0)) await other.close()
  await connector.close()
  raw.close()
  dir.remove()
})

async function open(opts: ChangeFeedOptions, entity = 'items', on = connector): Promise<ChangeFeed> {
  const feed = await on.openChangeFeed!(entity, opts)
  feeds.push(feed)
  return feed
}

async function scanned(entity = 'items'): Promise<Row[]> {
  const rows: Row[] = []
  const info = await connector.describe(entity)
  for await (const batch of connector.scan(entity, { fields: info.fields.map((f) => f.name), keys: ['id'], batchSize: 100 })) rows.push(...batch)
  return rows
}

/** Names of syncline's triggers and tables in the file. */
function synclineObjects(): string[] {
  return (raw.prepare(`SELECT type || ' ' || name FROM sqlite_schema WHERE name LIKE '\\_syncline\\_%' ESCAPE '\\' ORDER BY type, name`).pluck().all() as string[])
}

function sqlite3(sql: string): void {
  execFileSync('sqlite3', [path, sql], { stdio: ['ignore', 'ignore', 'pipe'] })
}

describe('SQLite change capture', () => {
  it('captures writes of another process (the sqlite3 shell), every storage class in any column exactly as scan reads it', async () => {
    const reader = new FeedReader(await open({ consumer: 'shell' }))
    sqlite3(`INSERT INTO items VALUES
      (1, 9223372036854775807, 0.1, 'text in an untyped column', 42, x'00ff10'),
      (2, -9223372036854775808, 9e999, 2.5, 'ü😀 tab\t', x''),
      (3, 9007199254740993, -9e999, NULL, NULL, NULL),
      (4, '12', 7, 9223372036854775807, 1e308, x'00'),
      (5, NULL, 5e-324, 2.2250738585072014e-308, 0.30000000000000004, NULL)`)
    sqlite3(`UPDATE items SET r = 4.35, x = -1.5e-300 WHERE id = 1`)
    sqlite3(`DELETE FROM items WHERE id = 2`)
    const got = await reader.take(7)
    const rows = await scanned()
    expect(got.map(shape)).toEqual([
      ...[1, 2, 3, 4, 5].map((id) => ({ type: 'create', key: [id], record: expect.anything() })),
      { type: 'update', key: [1], record: rows[0] },
      { type: 'delete', key: [2] },
    ])
    // Creates as the rows were then: those not changed since equal what scan reads now.
    expect(got.slice(2, 5).map((c) => c.record)).toEqual(rows.slice(1, 4))
    expect(got[0]!.record).toMatchObject({ id: 1, i: 2n ** 63n - 1n, r: 0.1, x: 'text in an untyped column', t: '42' })
    expect(got[1]!.record).toMatchObject({ id: 2, i: -(2n ** 63n), r: Infinity })
    expect(got[6]!.before).toEqual(got[1]!.record)
    expect(got[5]!.before).toEqual(got[0]!.record)
    for (const change of got) expect(change.committedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
  })

  it('an update that changes the key carries the previous key and the row before it', async () => {
    raw.exec(`INSERT INTO items (id, t) VALUES (1, 'one')`)
    const reader = new FeedReader(await open({ consumer: 'rekey' }))
    raw.exec(`UPDATE items SET id = 10 WHERE id = 1`)
    const [change] = await reader.take(1)
    expect(change).toMatchObject({ type: 'update', key: [10], previousKey: [1], record: { id: 10, t: 'one' }, before: { id: 1, t: 'one' } })
  })

  it('captures a WITHOUT ROWID table; INSERT OR REPLACE over an existing key comes as a create (docs/realtime.md)', async () => {
    raw.exec(`CREATE TABLE codes (code TEXT PRIMARY KEY, label TEXT) WITHOUT ROWID; INSERT INTO codes VALUES ('a', 'one')`)
    const reader = new FeedReader(await open({ consumer: 'codes' }, 'codes'))
    raw.exec(`INSERT OR REPLACE INTO codes VALUES ('a', 'uno'); UPDATE codes SET label = 'eins' WHERE code = 'a'`)
    expect((await reader.take(2)).map(shape)).toEqual([
      { type: 'create', key: ['a'], record: { code: 'a', label: 'uno' } },
      { type: 'update', key: ['a'], record: { code: 'a', label: 'eins' } },
    ])
  })

  it('a table without a primary key, captured by the keys given, with an odd name; its snapshot is sorted in key order', async () => {
    const table = 'order "lines"'
    const quoted = `"order ""lines"""`
    raw.exec(`CREATE TABLE ${quoted} (sku TEXT, qty INTEGER); INSERT INTO ${quoted} VALUES ('b', 2), ('😀', 3), ('a', 1), ('\uFFFD', 4)`)
    const feed = await open({ consumer: 'lines', keys: ['sku'] }, table)
    const snapshot: Row[] = []
    for await (const batch of feed.snapshot({ fields: ['qty'], keys: ['sku'], batchSize: 3 })) snapshot.push(...batch)
    expect(snapshot.map((r) => r.sku)).toEqual(['a', 'b', '\uFFFD', '😀'])
    const reader = new FeedReader(feed)
    raw.exec(`DELETE FROM ${quoted} WHERE sku = 'a'`)
    expect((await reader.take(1)).map(shape)).toEqual([{ type: 'delete', key: ['a'] }])
  })

  it('the snapshot holds back WAL checkpoints only until it has been read; closing mid-snapshot ends it quietly', async () => {
    raw.exec(`INSERT INTO items (id) VALUES (1), (2), (3)`)
    const feed = await open({ consumer: 'wal' })
    raw.exec(`INSERT INTO items (id) VALUES (4)`)
    // Without a busy timeout, a checkpoint that a reader blocks answers at once instead of after 5 s.
    raw.pragma('busy_timeout = 0')
    const checkpoint = () => (raw.pragma('wal_checkpoint(TRUNCATE)') as { busy: bigint }[])[0]!.busy
    expect(checkpoint()).toBe(1n) // the snapshot's read transaction still needs the older pages
    const ids: unknown[] = []
    for await (const batch of feed.snapshot({ fields: [], keys: ['id'], batchSize: 2 })) ids.push(...batch.map((r) => r.id))
    expect(ids).toEqual([1, 2, 3])
    expect(checkpoint()).toBe(0n)

    const second = await open({ consumer: 'wal_closed' })
    const seen: unknown[] = []
    for await (const batch of second.snapshot({ fields: [], keys: ['id'], batchSize: 1 })) {
      seen.push(...batch.map((r) => r.id))
      await second.close()
    }
    expect(seen).toEqual([1])
  })

  it('without file events, the data_version backstop still wakes a waiting feed', async () => {
    const db = new Database(path)
    const elsewhere = tempDir('syncline-sqlite-cdc-other-')
    try {
      // Watching another folder: no file event for this database ever arrives.
      const waker = new ChangeWaker(join(elsewhere.path, 'other.db'), db, 100)
      let woken = false
      const wait = waker.wait().then(() => (woken = true))
      await new Promise((resolve) => setTimeout(resolve, 250))
      expect(woken).toBe(false)
      const started = performance.now()
      raw.exec(`INSERT INTO items (id) VALUES (1)`)
      await wait
      expect(performance.now() - started).toBeLessThan(500)
      waker.stop()
    } finally {
      db.close()
      elsewhere.remove()
    }
  })

  it('a commit between a read that found nothing and the wait after it wakes that wait (file events and the backstop)', async () => {
    const db = new Database(path)
    const elsewhere = tempDir('syncline-sqlite-cdc-other-')
    try {
      for (const [label, waker] of [
        ['file events', new ChangeWaker(path, db, 60_000)],
        // Watching another folder: only data_version can tell.
        ['backstop', new ChangeWaker(join(elsewhere.path, 'other.db'), db, 100)],
      ] as const) {
        waker.arm()
        raw.exec(`INSERT INTO items (id) VALUES (${label === 'backstop' ? 2 : 1})`)
        // The commit came while nobody waited: the wait that follows must not sleep until the next one.
        await new Promise((resolve) => setTimeout(resolve, 250))
        const started = performance.now()
        await waker.wait()
        expect(performance.now() - started, label).toBeLessThan(500)
        waker.stop()
      }
    } finally {
      db.close()
      elsewhere.remove()
    }
  })

  it('after ALTER TABLE ADD COLUMN the triggers are rewritten and changes carry the new column', async () => {
    const first = await open({ consumer: 'alter' })
    const reader = new FeedReader(first)
    raw.exec(`ALTER TABLE items ADD COLUMN note TEXT`)
    // The running feed notices the schema change on its next wake-up and rewrites the triggers.
    const deadline = Date.now() + 5000
    while (!String(raw.prepare(`SELECT sql FROM sqlite_schema WHERE name = '_syncline_items_insert'`).pluck().get()).includes('"note"')) {
      if (Date.now() > deadline) throw new Error('the triggers were not rewritten after ALTER TABLE')
      await reader.expectNoMore(50)
    }
    raw.exec(`INSERT INTO items (id, note) VALUES (1, 'hello')`)
    const [created] = await reader.take(1)
    expect(created!.record).toEqual({ id: 1, i: null, r: null, x: null, t: null, b: null, note: 'hello' })
    await first.close()

    // A feed that was closed during the ALTER: opening rewrites them.
    raw.exec(`ALTER TABLE items ADD COLUMN size INTEGER`)
    const again = new FeedReader(await open({ consumer: 'alter', from: created!.position }))
    raw.exec(`UPDATE items SET size = 3 WHERE id = 1`)
    expect((await again.take(1))[0]!.record).toMatchObject({ id: 1, note: 'hello', size: 3 })
  })

  it('acknowledged rows are pruned up to the slowest consumer; a position before pruned rows is lost', async () => {
    const a = await open({ consumer: 'fast' })
    const b = await open({ consumer: 'slow' })
    const readA = new FeedReader(a)
    const readB = new FeedReader(b)
    for (let id = 1; id <= 3; id++) raw.prepare(`INSERT INTO items (id) VALUES (?)`).run(id)
    const seen = await readA.take(3)
    await readB.take(3)
    const logged = () => Number(raw.prepare(`SELECT count(*) FROM _syncline_changes`).pluck().get())
    await a.ack(seen[2]!.position)
    expect(logged()).toBe(3) // the slow consumer still needs them
    await b.ack(seen[1]!.position)
    expect(logged()).toBe(1)
    expect(await connector.listChangeFeeds!()).toEqual([
      { consumer: 'fast', entity: 'items', active: true, position: seen[2]!.position, pendingChanges: 0 },
      { consumer: 'slow', entity: 'items', active: true, position: seen[1]!.position, pendingChanges: 1 },
    ])
    await a.close()
    expect((await connector.listChangeFeeds!()).find((s) => s.consumer === 'fast')?.active).toBe(false)

    const error = await rejection(open({ consumer: 'fast', from: seen[0]!.position }))
    expect(error).toBeInstanceOf(SynclineError)
    expect(error.code).toBe('POSITION_LOST')
    expect(error.message).toContain('pruned')
    expect(error.message).toContain('without a position')
  })

  it('dropping the last consumer removes the triggers and the change-log tables; discover never lists them', async () => {
    await open({ consumer: 'one' })
    await open({ consumer: 'two' })
    expect(synclineObjects()).toEqual([
      'index _syncline_changes_entity',
      'table _syncline_captured',
      'table _syncline_changes',
      'table _syncline_consumers',
      'trigger _syncline_items_delete',
      'trigger _syncline_items_insert',
      'trigger _syncline_items_update',
    ])
    expect((await connector.discover()).map((e) => e.name)).toEqual(['items'])
    for (const feed of feeds.splice(0)) await feed.close()
    await connector.dropChangeFeed!('one')
    expect(synclineObjects()).toHaveLength(7)
    await connector.dropChangeFeed!('two')
    expect(synclineObjects()).toEqual([])
    raw.exec(`INSERT INTO items (id) VALUES (1)`) // writes work without the triggers
    expect(await connector.listChangeFeeds!()).toEqual([])
  })

  it('two connectors opening feeds at once install one set of triggers, and both see every change', async () => {
    const other = createSqliteConnector({ name: 'shop2', url: `sqlite:${path}` })
    others.push(other)
    const [a, b] = await Promise.all([open({ consumer: 'left' }), open({ consumer: 'right' }, 'items', other)])
    expect(synclineObjects().filter((o) => o.startsWith('trigger'))).toHaveLength(3)
    raw.exec(`INSERT INTO items (id) VALUES (1)`)
    expect((await new FeedReader(a!).take(1))[0]!.key).toEqual([1])
    expect((await new FeedReader(b!).take(1))[0]!.key).toEqual([1])
  })

  it('refuses what it cannot capture: an in-memory database, a view, a table without a key', async () => {
    const memory = createSqliteConnector({ name: 'scratch', url: 'sqlite::memory:' })
    others.push(memory)
    await memory.ensureEntity('items', [{ name: 'id', type: 'integer', nativeType: '', nullable: false }], ['id'])
    const inMemory = await rejection(memory.openChangeFeed!('items', { consumer: 'mem' }))
    expect(inMemory).toMatchObject({ code: 'CDC_NOT_READY' })
    expect(inMemory.message).toContain('in-memory')
    expect((await memory.check()).cdc).toMatchObject({ ready: false, reason: expect.stringContaining('in-memory') })

    raw.exec(`CREATE VIEW cheap AS SELECT * FROM items WHERE r < 10; CREATE TABLE loose (a, b)`)
    expect(await rejection(open({ consumer: 'view' }, 'cheap'))).toMatchObject({ code: 'CDC_NOT_READY', message: expect.stringContaining('view') })
    expect(await rejection(open({ consumer: 'loose' }, 'loose'))).toMatchObject({ code: 'KEY_MISSING' })
    expect(await rejection(open({ consumer: 'Bad Name' }))).toMatchObject({ code: 'PLAN_INVALID' })
    expect(synclineObjects().filter((o) => o.startsWith('trigger'))).toEqual([])
  })

  it('check tells which tables are captured and what capture installs', async () => {
    await open({ consumer: 'checked' })
    const report = await connector.check()
    expect(report.cdc).toEqual({ ready: true })
    expect(report.details).toMatchObject({ cdcMethod: 'triggers', cdcCaptured: 'items', cdcInstalls: expect.stringContaining('_syncline_changes') })
  })
})
