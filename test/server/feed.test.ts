/**
 * The daemon's WebSocket change feed (`/feed`) as an application uses it,
 * against `syncline serve` as a child process: a snapshot, then `ready`,
 * then live changes (SQLite triggers, PostgreSQL logical replication);
 * writes during the snapshot and a disconnect with `since` resume end with
 * a replica identical to the table, no change missing or seen twice; a
 * wrong token is refused with 401 on the upgrade; a filter keeps the
 * replica to the matching rows; an unknown entity is an error frame and a close.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_TIMEOUT_MS, ensureBuilt } from '../cli/build.js'
import { workspace, type Workspace } from '../cli/workspace.js'
import { createPgDatabase, hasPostgres, pgQuery } from '../helpers/services.js'
import { startDaemon, waitFor, TEST_TOKEN, type DaemonProcess } from './daemon-process.js'
import { connectFeed, type FeedClient, type FeedMessage } from './feed-client.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

const pgAvailable = await hasPostgres()
const required = process.env.SYNCLINE_TEST_SERVICES === 'required'

let ws: Workspace | undefined
let daemon: DaemonProcess | undefined
const clients: FeedClient[] = []
const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close()
  await daemon?.stop('SIGKILL')
  daemon = undefined
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  ws?.remove()
  ws = undefined
})

function feed(query: Record<string, string>, opts: Parameters<typeof connectFeed>[2] = {}): FeedClient {
  const client = connectFeed(daemon!.url, query, opts)
  clients.push(client)
  return client
}

type Item = { id: number; name: string; status: string; version: number }

/**
 * What an application keeps from the feed, strict about the seams: a
 * snapshot row or create of a key it holds, an update or delete of one it
 * does not, or an update that skips a version is a duplicate or a gap.
 */
class Replica {
  readonly rows = new Map<string, Item>()
  lastPosition: string | undefined
  applied = 0
  apply(m: FeedMessage): void {
    if (m.type === 'ready') return
    const id = m.recordId!
    const record = m.record as Item | undefined
    if (m.type === 'snapshot' || m.type === 'create') {
      if (this.rows.has(id)) throw new Error(`${m.type} of ${id}, which the replica holds already (a duplicate)`)
      this.rows.set(id, record!)
    } else if (m.type === 'update') {
      const held = this.rows.get(id)
      if (held === undefined) throw new Error(`update of ${id}, which the replica does not hold (a gap)`)
      if (record!.version !== held.version + 1) throw new Error(`update of ${id} to version ${record!.version} after ${held.version} (a gap or a duplicate)`)
      this.rows.set(id, record!)
    } else if (m.type === 'delete') {
      if (!this.rows.delete(id)) throw new Error(`delete of ${id}, which the replica does not hold`)
    } else {
      throw new Error(`unexpected message ${JSON.stringify(m)}`)
    }
    if (m.position !== undefined) this.lastPosition = m.position as string
    this.applied++
  }
  sorted(): Item[] {
    return [...this.rows.values()].sort((a, b) => a.id - b.id)
  }
}

/** Apply a client's messages from `from` on (index); returns the next index. */
function applyFrom(replica: Replica, client: FeedClient, from: number): number {
  for (let i = from; i < client.messages.length; i++) replica.apply(client.messages[i]!)
  return client.messages.length
}

const isReady = (m: FeedMessage) => m.type === 'ready'

describe('syncline serve: the WebSocket feed on SQLite', () => {
  function sqlitePlan(): Workspace {
    const w = (ws = workspace('syncline-feed-'))
    w.sqlite('shop.db', `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1);
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20)
      INSERT INTO items (id, name, status) SELECT i, 'item ' || i, CASE WHEN i % 2 = 0 THEN 'active' ELSE 'gone' END FROM n;`)
    w.write('syncline.yaml', 'connections:\n  shop: { url: sqlite:./shop.db }\n')
    return w
  }

  it('sends the snapshot, then ready, then live changes; the feed clients gauge counts it', async () => {
    const w = sqlitePlan()
    daemon = await startDaemon(w.dir)
    // A browser passes the token in the query string.
    const client = feed({ connection: 'shop', entity: 'items', snapshot: 'true' }, { token: { query: TEST_TOKEN } })
    await client.waitFor(isReady)
    const readyAt = client.messages.findIndex(isReady)
    expect(client.messages.slice(0, readyAt).map((m) => m.type)).toEqual(Array(20).fill('snapshot'))
    expect(client.messages[0]).toEqual({ type: 'snapshot', recordId: '1', key: { id: 1 }, record: { id: 1, name: 'item 1', status: 'gone', version: 1 } })
    expect(client.messages[readyAt]!.position).toMatch(/^feed_[0-9a-f]{8}\.\d+$/)
    expect((await daemon.api<string>('/metrics')).body).toMatch(/^syncline_feed_clients\{connection="shop",entity="items"\} 1$/m)

    w.sqlite('shop.db', `INSERT INTO items (id, name, status) VALUES (21, 'new', 'active'); UPDATE items SET name = 'renamed', version = 2 WHERE id = 2; DELETE FROM items WHERE id = 3`)
    const live = await client.waitFor((m) => ['create', 'update', 'delete'].includes(m.type), 3)
    expect(live.map((m) => [m.type, m.recordId])).toEqual([
      ['create', '21'],
      ['update', '2'],
      ['delete', '3'],
    ])
    expect(live[1]).toMatchObject({ connection: 'shop', entity: 'items', key: { id: 2 }, changes: { name: 'renamed', version: 2 }, before: { name: 'item 2' } })
    const replica = new Replica()
    applyFrom(replica, client, 0)
    expect(replica.sorted()).toEqual(w.sqliteRows<Item>('shop.db', 'SELECT * FROM items ORDER BY id'))

    await client.close()
    await waitFor(async () => /^syncline_feed_clients\{connection="shop",entity="items"\} 0$/m.test((await daemon!.api<string>('/metrics')).body), 10_000, 'the gauge to drop')

    // SIGTERM with a client connected: it is closed as "going away" and the daemon exits 0.
    const staying = feed({ connection: 'shop', entity: 'items' })
    await staying.waitFor(isReady)
    const exit = await daemon.stop('SIGTERM')
    daemon = undefined
    expect(exit.code).toBe(0)
    expect((await staying.closed).code).toBe(1001)
  })

  it('refuses a missing or wrong token with 401 on the upgrade', async () => {
    daemon = await startDaemon(sqlitePlan().dir)
    expect(await feed({ connection: 'shop', entity: 'items' }, { token: 'not-the-token-at-all' }).refusedStatus).toBe(401)
    expect(await feed({ connection: 'shop', entity: 'items' }, { token: { query: 'wrong-wrong-wrong-wrong' } }).refusedStatus).toBe(401)
    expect(await feed({ connection: 'shop', entity: 'items' }, { token: null }).refusedStatus).toBe(401)
  })

  it('keeps a filtered replica to the matching rows: a row that leaves the filter arrives as a delete', async () => {
    const w = sqlitePlan()
    daemon = await startDaemon(w.dir)
    const client = feed({ connection: 'shop', entity: 'items', snapshot: 'true', filter: JSON.stringify([{ field: 'status', op: '=', value: 'active' }]) })
    await client.waitFor(isReady)
    expect(client.messages.filter((m) => m.type === 'snapshot').map((m) => m.recordId)).toEqual(['2', '4', '6', '8', '10', '12', '14', '16', '18', '20'])
    w.sqlite(
      'shop.db',
      `INSERT INTO items (id, name, status) VALUES (30, 'hidden', 'gone'), (31, 'shown', 'active');
       UPDATE items SET status = 'gone', version = 2 WHERE id = 2;   -- leaves the filter
       UPDATE items SET status = 'active', version = 2 WHERE id = 1; -- enters it
       UPDATE items SET name = 'x', version = 2 WHERE id = 5;        -- never in it
       DELETE FROM items WHERE id = 7;                               -- never in it`,
    )
    await client.waitFor((m) => m.type === 'create' && m.recordId === '31')
    // A marker change after them all, so nothing filtered out is still on its way.
    w.sqlite('shop.db', `UPDATE items SET name = 'marker', version = 2 WHERE id = 4`)
    await client.waitFor((m) => m.recordId === '4' && m.type === 'update')
    const live = client.messages.slice(client.messages.findIndex(isReady) + 1)
    expect(live.map((m) => [m.type, m.recordId])).toEqual([
      ['create', '31'],
      ['delete', '2'],
      ['update', '1'],
      ['update', '4'],
    ])
    const rows = new Map<string, unknown>()
    for (const m of client.messages) {
      if (m.type === 'delete') rows.delete(m.recordId!)
      else if (m.record !== undefined) rows.set(m.recordId!, m.record)
    }
    expect([...rows.values()].sort((a, b) => (a as Item).id - (b as Item).id)).toEqual(w.sqliteRows('shop.db', `SELECT * FROM items WHERE status = 'active' ORDER BY id`))
  })

  it('disconnects a client that does not read, with a reason, instead of buffering without bound', async () => {
    const w = sqlitePlan()
    daemon = await startDaemon(w.dir, { env: { SYNCLINE_FEED_HIGH_WATER: '65536', SYNCLINE_FEED_SLOW_TIMEOUT: '500' } })
    const client = feed({ connection: 'shop', entity: 'items' })
    await client.waitFor(isReady)
    client.socket.pause()
    // About 40 MB of events: more than the kernel's socket buffers hold.
    for (let batch = 0; batch < 10; batch++) {
      w.sqlite('shop.db', `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
        INSERT INTO items (id, name, status) SELECT 1000 + ${batch * 2000} + i, printf('%.2000c', 'x'), 'active' FROM n`)
    }
    await waitFor(() => daemon!.logs().some((l) => l.msg === 'feed client too slow; disconnected'), 30_000, 'the daemon to let the client go')
    client.socket.resume()
    const closed = await client.closed
    expect(closed).toEqual({ code: 1013, reason: 'too slow' })
    expect(client.messages.at(-1)).toMatchObject({ type: 'error', code: 'SLOW_CONSUMER', message: expect.stringContaining('did not keep up') })
    expect(client.messages.length).toBeLessThan(20_001)
  })

  it('answers an unknown entity, a bad filter and a missing parameter with an error frame, then closes', async () => {
    daemon = await startDaemon(sqlitePlan().dir)
    const unknown = feed({ connection: 'shop', entity: 'itemz' })
    expect((await unknown.closed).code).toBe(1008)
    expect(unknown.messages).toEqual([{ type: 'error', code: 'ENTITY_NOT_FOUND', message: expect.stringContaining('items') }])

    const badField = feed({ connection: 'shop', entity: 'items', filter: '[{"field":"statuz","op":"=","value":"active"}]' })
    await badField.closed
    expect(badField.messages).toEqual([{ type: 'error', code: 'PLAN_INVALID', message: expect.stringMatching(/statuz[^]*status/) }])

    const notJson = feed({ connection: 'shop', entity: 'items', filter: 'status=active' })
    await notJson.closed
    expect(notJson.messages).toEqual([{ type: 'error', code: 'PLAN_INVALID', message: expect.stringContaining('filter is not JSON') }])

    const noEntity = feed({ connection: 'shop' })
    await noEntity.closed
    expect(noEntity.messages).toEqual([{ type: 'error', code: 'PLAN_INVALID', message: expect.stringContaining('entity is missing') }])

    const unknownConnection = feed({ connection: 'shoop', entity: 'items' })
    await unknownConnection.closed
    expect(unknownConnection.messages).toEqual([{ type: 'error', code: 'CONNECTION_NOT_FOUND', message: expect.stringContaining("'shop'") }])
    // Refused requests leave no gauge series behind (a label per mistyped name would pile up).
    expect((await daemon.api<string>('/metrics')).body).not.toMatch(/syncline_feed_clients\{/)
  })
})

describe.skipIf(!pgAvailable && !required)('syncline serve: the WebSocket feed on PostgreSQL', () => {
  it('writes during the snapshot and a disconnect resumed with since: the replica ends identical, no gap, no duplicate', async () => {
    const w = (ws = workspace('syncline-feed-pg-'))
    const source = await createPgDatabase('syncline_feed')
    cleanups.push(async () => {
      await pgQuery(source.url, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = current_database() AND active_pid IS NOT NULL`)
      await waitFor(async () => (await pgQuery(source.url, `SELECT 1 FROM pg_replication_slots WHERE database = current_database() AND active`)).length === 0, 10_000)
      await pgQuery(source.url, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()`).catch(() => undefined)
      await source.drop()
    })
    await pgQuery(
      source.url,
      `CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL, status text NOT NULL, version integer NOT NULL DEFAULT 1);
       INSERT INTO items (id, name, status) SELECT i, 'item ' || i, 'active' FROM generate_series(1, 3000) i`,
    )
    w.write('syncline.yaml', `connections:\n  src: { url: ${source.url} }\n`)
    daemon = await startDaemon(w.dir)

    let next = 3001
    // One transaction: a new row, an update of an existing one, a delete of another.
    const writeSome = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const id = next++
        await pgQuery(
          source.url,
          `INSERT INTO items (id, name, status) VALUES (${id}, 'new ${id}', 'active');
           UPDATE items SET version = version + 1, name = 'changed' WHERE id = ${(id * 7) % 3000};
           DELETE FROM items WHERE id = ${id - 3000 + 1500}`,
        )
      }
    }

    const replica = new Replica()
    const first = feed({ connection: 'src', entity: 'items', snapshot: 'true' })
    // Writes while the snapshot is being read and sent.
    await writeSome(20)
    await first.waitFor(isReady, 1, 30_000)
    await writeSome(20)
    await first.waitFor((m) => m.type === 'create', 20, 30_000)
    const seen = applyFrom(replica, first, 0)
    expect(replica.applied).toBeGreaterThan(3000)
    await first.close()
    applyFrom(replica, first, seen)

    // Changes while no client is connected, then a resume from the last position the replica applied.
    await writeSome(20)
    const second = feed({ connection: 'src', entity: 'items', since: replica.lastPosition! })
    await second.waitFor(isReady, 1, 30_000)
    await writeSome(10)
    const expected = async () => (await pgQuery<Item>(source.url, 'SELECT id, name, status, version FROM items ORDER BY id')).map((r) => ({ ...r }))
    const want = await expected()
    let at = 0
    await waitFor(
      () => {
        at = applyFrom(replica, second, at)
        return replica.rows.size === want.length && replica.sorted().every((row, i) => row.id === want[i]!.id && row.version === want[i]!.version)
      },
      30_000,
      'the replica to catch up',
    )
    expect(replica.sorted()).toEqual(want)
  })
})
