/**
 * The feed's shared capture (docs/daemon.md "Change feed") against
 * `syncline serve` as a child process on real PostgreSQL: every client of
 * one entity reads one capture (one replication slot); a client that
 * reconnects with its last position after writes made while it was away,
 * even across a serve restart, ends identical to the table with no gap and
 * no duplicate; a position older than the replay window gets `reset` and a
 * fresh snapshot; the plan's `feeds:` capture from start; a client that
 * answers no ping is dropped.
 */
import { connect } from 'node:net'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_TIMEOUT_MS, ensureBuilt } from '../cli/build.js'
import { workspace, type Workspace } from '../cli/workspace.js'
import { createPgDatabase, pgQuery } from '../helpers/services.js'
import { startDaemon, waitFor, TEST_TOKEN, type DaemonProcess } from './daemon-process.js'
import { connectFeed, type FeedClient, type FeedMessage } from './feed-client.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

let ws: Workspace | undefined
const daemons: DaemonProcess[] = []
const clients: FeedClient[] = []
const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close()
  for (const daemon of daemons.splice(0)) await daemon.stop('SIGKILL')
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  ws?.remove()
  ws = undefined
})

async function daemonIn(dir: string, opts: { port?: string; env?: Record<string, string> } = {}): Promise<DaemonProcess> {
  const daemon = await startDaemon(dir, { ...(opts.env === undefined ? {} : { env: opts.env }), ...(opts.port === undefined ? {} : { args: ['--port', opts.port] }) })
  daemons.push(daemon)
  return daemon
}

function feed(daemon: DaemonProcess, query: Record<string, string>): FeedClient {
  const client = connectFeed(daemon.url, query)
  clients.push(client)
  return client
}

type Item = { id: number; name: string; version: number }

/** Strict about the seams: a create of a held key, an update or delete of one not held, or a skipped version is a duplicate or a gap. */
class Replica {
  readonly rows = new Map<string, Item>()
  lastPosition: string | undefined
  /** A filtered feed may send deletes of records it never sent (PostgreSQL gives no before-image to tell). */
  constructor(private readonly filtered = false) {}
  apply(messages: FeedMessage[]): this {
    for (const m of messages) {
      if (m.type === 'ready' || m.type === 'heartbeat') continue
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
        if (!this.rows.delete(id) && !this.filtered) throw new Error(`delete of ${id}, which the replica does not hold`)
      } else {
        throw new Error(`unexpected message ${JSON.stringify(m)}`)
      }
      if (m.position !== undefined) this.lastPosition = m.position
    }
    return this
  }
  sorted(): Item[] {
    return [...this.rows.values()].sort((a, b) => a.id - b.id)
  }
}

const isReady = (m: FeedMessage) => m.type === 'ready'

/** A PostgreSQL source with 500 items and a plan naming it `src`; `extra` is appended to the plan. */
async function pgSource(extra = ''): Promise<{ w: Workspace; url: string; write: (n: number) => Promise<void>; table: () => Promise<Item[]>; slots: () => Promise<string[]> }> {
  const w = (ws = workspace('syncline-feed-hub-'))
  const source = await createPgDatabase('syncline_feed_hub')
  cleanups.push(async () => {
    await pgQuery(source.url, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = current_database() AND active_pid IS NOT NULL`)
    await waitFor(async () => (await pgQuery(source.url, `SELECT 1 FROM pg_replication_slots WHERE database = current_database() AND active`)).length === 0, 10_000)
    await pgQuery(source.url, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()`).catch(() => undefined)
    await source.drop()
  })
  await pgQuery(
    source.url,
    `CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL, version integer NOT NULL DEFAULT 1);
     INSERT INTO items (id, name) SELECT i, 'item ' || i FROM generate_series(1, 500) i`,
  )
  w.write('syncline.yaml', `connections:\n  src: { url: ${source.url} }\n${extra}`)
  let next = 501
  // Each round one transaction: a create, an update of an older row, a delete of another.
  const write = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const id = next++
      await pgQuery(
        source.url,
        `INSERT INTO items (id, name) VALUES (${id}, 'new ${id}');
         UPDATE items SET version = version + 1, name = 'changed' WHERE id = ${(id * 7) % 500};
         DELETE FROM items WHERE id = ${id - 500 + 250}`,
      )
    }
  }
  const table = async () => (await pgQuery<Item>(source.url, 'SELECT id, name, version FROM items ORDER BY id')).map((r) => ({ ...r }))
  const slots = async () => (await pgQuery<{ slot_name: string }>(source.url, `SELECT slot_name FROM pg_replication_slots WHERE database = current_database()`)).map((r) => r.slot_name)
  return { w, url: source.url, write, table, slots }
}

/**
 * Wait until the replica equals the table. A reset fails it, unless
 * `allowReset` (a client must then rebuild from the fresh snapshot).
 */
async function untilEqual(replica: Replica, client: FeedClient, table: () => Promise<Item[]>, what: string, allowReset = false): Promise<void> {
  let at = 0
  await waitFor(
    async () => {
      const reset = client.messages.find((m) => m.type === 'reset')
      // Say why: the daemon logs the reason of every reset.
      if (reset !== undefined && !allowReset) throw new Error(`unexpected reset: ${JSON.stringify(daemons.flatMap((d) => d.logs()).filter((l) => /reset|capture/.test(String(l.msg))))}`)
      for (const m of client.messages.slice(at)) {
        if (m.type === 'reset') replica.rows.clear()
        else replica.apply([m])
      }
      at = client.messages.length
      return JSON.stringify(replica.sorted()) === JSON.stringify(await table())
    },
    30_000,
    what,
  )
}

describe('syncline serve: one shared capture per entity for the WebSocket feed (PostgreSQL)', () => {
  it('serves two clients from one capture (one slot), each with its own filter, and heartbeats when asked', async () => {
    const src = await pgSource()
    const daemon = await daemonIn(src.w.dir)
    const all = feed(daemon, { connection: 'src', entity: 'items', snapshot: 'true', heartbeat: '1' })
    const small = feed(daemon, { connection: 'src', entity: 'items', snapshot: 'true', filter: JSON.stringify([{ field: 'id', op: '<', value: 100 }]) })
    await all.waitFor(isReady, 1, 30_000)
    await small.waitFor(isReady, 1, 30_000)
    expect(small.messages.filter((m) => m.type === 'snapshot')).toHaveLength(99)
    await src.write(30)
    const replica = new Replica()
    await untilEqual(replica, all, src.table, 'the unfiltered client to equal the table')
    // Both clients read one capture: one slot on the source, not one per client.
    expect(await src.slots()).toHaveLength(1)
    // The filtered client holds exactly the rows that pass.
    const filtered = new Replica(true)
    await waitFor(
      async () => {
        filtered.rows.clear()
        filtered.apply(small.messages)
        return JSON.stringify(filtered.sorted()) === JSON.stringify((await src.table()).filter((r) => r.id < 100))
      },
      30_000,
      'the filtered client to equal the filtered table',
    )
    // A quiet second: the client that asked for heartbeats gets one; the other gets none.
    await all.waitFor((m) => m.type === 'heartbeat', 1, 5_000)
    expect(small.messages.some((m) => m.type === 'heartbeat')).toBe(false)
    expect((await daemon.api<string>('/metrics')).body).toMatch(/^syncline_feed_clients\{connection="src",entity="items"\} 2$/m)
    expect((await daemon.api<string>('/metrics')).body).toMatch(/^syncline_feed_capture_lag_seconds\{connection="src",entity="items"\} \d/m)
  })

  it('resumes a client with since after writes while it was away, across a serve restart; plan feeds: capture from start', async () => {
    const src = await pgSource('feeds:\n  - { connection: src, entity: items }\n')
    const first = await daemonIn(src.w.dir)
    const port = new URL(first.url).port
    // Captured from start: the slot exists before any client.
    await waitFor(async () => (await src.slots()).length === 1, 30_000, 'the plan feed to start its capture')
    await src.write(10) // before any client: in the capture, part of the snapshot a client reads
    const replica = new Replica()
    const one = feed(first, { connection: 'src', entity: 'items', snapshot: 'true' })
    await one.waitFor(isReady, 1, 30_000)
    await src.write(10)
    await untilEqual(replica, one, src.table, 'the client to follow')
    await one.close()
    replica.apply(one.messages.slice(one.messages.length)) // nothing more arrives after a close

    // Away: writes, then back with since.
    await src.write(15)
    const two = feed(first, { connection: 'src', entity: 'items', since: replica.lastPosition! })
    await untilEqual(replica, two, src.table, 'the client to catch up after reconnecting')
    expect(two.messages[0]).toEqual({ type: 'ready', position: expect.stringMatching(/^feed_[0-9a-f]{8}\.\d+$/) })
    await two.close()

    // Writes to another table move the WAL past the capture's last event; the capture acknowledges
    // those position-only moves, so the slot releases the WAL up to them. The log must hold that
    // position too, or the restarted serve could not resume (it was once a flake under load).
    await pgQuery(src.url, 'CREATE TABLE other (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())')
    const before = (await pgQuery<{ lsn: string }>(src.url, `SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE database = current_database()`))[0]!.lsn
    await waitFor(
      async () => {
        await pgQuery(src.url, 'INSERT INTO other DEFAULT VALUES')
        const [row] = await pgQuery<{ ahead: boolean }>(src.url, `SELECT confirmed_flush_lsn > $1::pg_lsn AS ahead FROM pg_replication_slots WHERE database = current_database()`, [before])
        return row?.ahead === true
      },
      30_000,
      'the capture to acknowledge a position past its last event',
    )

    // serve stops (the capture's position saved), writes go on, serve comes back: since still resumes.
    const exit = await first.stop('SIGTERM')
    expect(exit.code).toBe(0)
    await src.write(15)
    const second = await daemonIn(src.w.dir, { port })
    await src.write(5)
    const three = feed(second, { connection: 'src', entity: 'items', since: replica.lastPosition! })
    await untilEqual(replica, three, src.table, 'the client to catch up after the restart')
    // Resumed, not restarted: nothing replayed from a fresh snapshot.
    expect(three.messages.some((m) => m.type === 'snapshot' || m.type === 'reset')).toBe(false)
    expect(second.logs().some((l) => /cannot resume/.test(String(l.msg)))).toBe(false)
    // One capture (one slot), never a second one beside it.
    expect(await src.slots()).toHaveLength(1)
  })

  it('answers a since older than the replay window (or unknown) with reset and a fresh snapshot', async () => {
    const src = await pgSource('feedReplay: 1s\n')
    const daemon = await daemonIn(src.w.dir)
    const replica = new Replica()
    const one = feed(daemon, { connection: 'src', entity: 'items', snapshot: 'true' })
    await one.waitFor(isReady, 1, 30_000)
    await src.write(5)
    await untilEqual(replica, one, src.table, 'the client to follow')
    await one.close()
    await src.write(5)
    // The window is 1 s and pruning runs every second: the events after the client's position are gone.
    await new Promise((r) => setTimeout(r, 3000))
    const two = feed(daemon, { connection: 'src', entity: 'items', since: replica.lastPosition! })
    await two.waitFor(isReady, 1, 30_000)
    expect(two.messages[0]).toEqual({ type: 'reset' })
    const fresh = new Replica().apply(two.messages.slice(1))
    expect(fresh.sorted()).toEqual(await src.table())

    const unknown = feed(daemon, { connection: 'src', entity: 'items', since: 'feed_00000000.12' })
    await unknown.waitFor(isReady, 1, 30_000)
    expect(unknown.messages[0]).toEqual({ type: 'reset' })
    expect(unknown.messages.filter((m) => m.type === 'snapshot')).toHaveLength(500)
  })

  it('drops a client that answers no ping', async () => {
    const src = await pgSource()
    const daemon = await daemonIn(src.w.dir, { env: { SYNCLINE_FEED_HEARTBEAT: '500' } })
    // A raw upgrade: a peer that never answers pings (its network gone, the socket still open).
    const { hostname, port } = new URL(daemon.url)
    const socket = connect(Number(port), hostname)
    cleanups.push(() => socket.destroy())
    let received = ''
    // It answers pings (an empty masked pong) until it is ready, then falls silent.
    let answering = true
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1')
      if (received.includes('"type":"ready"')) answering = false
      if (answering && chunk.includes(Buffer.from([0x89, 0x00]))) socket.write(Buffer.from([0x8a, 0x80, 0, 0, 0, 0]))
    })
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()))
    socket.write(
      `GET /feed?connection=src&entity=items HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${TEST_TOKEN}\r\n\r\n`,
    )
    await waitFor(() => received.includes('"type":"ready"'), 30_000, 'the raw client to be ready')
    expect(received).toMatch(/^HTTP\/1\.1 101/)
    await Promise.race([ended, new Promise((_, reject) => setTimeout(() => reject(new Error('the daemon kept a client that answers no ping')), 10_000))])
    expect(daemon.logs().some((l) => l.msg === 'feed client answered no ping; dropped')).toBe(true)
    await waitFor(async () => /^syncline_feed_clients\{connection="src",entity="items"\} 0$/m.test((await daemon.api<string>('/metrics')).body), 10_000, 'the gauge to drop')
  })
})
