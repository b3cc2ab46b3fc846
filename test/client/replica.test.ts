/**
 * `syncline/client` against `syncline serve` as a child process on a real
 * SQLite file (and PostgreSQL): the replica equals the table after seeded random writes; a
 * daemon restart (the socket dropped from the server side) is bridged by a
 * reconnect that resumes with `since`, no event lost or seen twice at the
 * seam; a position the daemon answers with reset starts over with a snapshot; a silent daemon is reconnected; `close()` stops reconnecting; a request the daemon cannot serve
 * rejects `ready` instead of retrying forever; `import 'syncline/client'`
 * resolves through package.json "exports".
 */
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { subscribe, type FeedChange, type FeedRecord, type Replica } from '../../src/client/index.js'
import { BUILD_TIMEOUT_MS, ensureBuilt } from '../cli/build.js'
import { workspace, type Workspace } from '../cli/workspace.js'
import { createPgDatabase, hasPostgres, pgQuery } from '../helpers/services.js'
import { startDaemon, waitFor, TEST_TOKEN, type DaemonProcess } from '../server/daemon-process.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

const pgAvailable = await hasPostgres()
const required = process.env.SYNCLINE_TEST_SERVICES === 'required'

let ws: Workspace | undefined
const daemons: DaemonProcess[] = []
const replicas: Replica[] = []
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const replica of replicas.splice(0)) replica.close()
  for (const daemon of daemons.splice(0)) await daemon.stop('SIGKILL')
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  ws?.remove()
  ws = undefined
})

async function daemonIn(dir: string, port?: string, env: Record<string, string> = {}): Promise<DaemonProcess> {
  const daemon = await startDaemon(dir, { env, ...(port === undefined ? {} : { args: ['--port', port] }) })
  daemons.push(daemon)
  return daemon
}

type Item = { id: number; name: string; version: number }

function shop(): Workspace {
  const w = (ws = workspace('syncline-client-'))
  w.sqlite('shop.db', `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
    INSERT INTO items (id, name) SELECT i, 'item ' || i FROM n;`)
  w.write('syncline.yaml', 'connections:\n  shop: { url: sqlite:./shop.db }\n')
  return w
}

/** A small seeded PRNG (mulberry32), so a failing run can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `count` random creates, updates (version + 1) and deletes as SQL statements, each its own transaction. */
function randomStatements(random: () => number, count: number, nextId: { value: number }): string[] {
  const statements: string[] = []
  for (let i = 0; i < count; i++) {
    const roll = random()
    const id = 1 + Math.floor(random() * (nextId.value - 1))
    if (roll < 0.3) statements.push(`INSERT INTO items (id, name) VALUES (${nextId.value++}, 'new')`)
    else if (roll < 0.8) statements.push(`UPDATE items SET version = version + 1, name = 'changed ${i}' WHERE id = ${id}`)
    else statements.push(`DELETE FROM items WHERE id = ${id}`)
  }
  return statements
}

/** {@link randomStatements} on the SQLite file. */
function randomWrites(w: Workspace, random: () => number, count: number, nextId: { value: number }): void {
  w.sqlite('shop.db', randomStatements(random, count, nextId).join(';\n'))
}

/**
 * onChange strict about the seams: a create of a record the replica holds,
 * an update or delete of one it does not, or an update that skips or
 * repeats a version is a duplicate or a gap.
 */
function seamChecker(): { problems: string[]; onChange: (event: FeedChange, previous: FeedRecord | undefined) => void } {
  const problems: string[] = []
  return {
    problems,
    onChange(event, previous) {
      const before = previous as Item | undefined
      const after = event.record as Item | undefined
      if (event.type === 'create' && before !== undefined) problems.push(`create of ${event.recordId}, already held`)
      if (event.type === 'delete' && before === undefined) problems.push(`delete of ${event.recordId}, not held`)
      if (event.type === 'update' && (before === undefined || after!.version !== before.version + 1)) {
        problems.push(`update of ${event.recordId} to version ${after?.version} after ${before?.version}`)
      }
    },
  }
}

const sorted = (replica: Replica) => [...replica.rows.values()].sort((a, b) => (a as Item).id - (b as Item).id)
const table = (w: Workspace) => w.sqliteRows<Item>('shop.db', 'SELECT id, name, version FROM items ORDER BY id')

async function untilEqual(replica: Replica, w: Workspace, what: string): Promise<void> {
  await waitFor(() => JSON.stringify(sorted(replica)) === JSON.stringify(table(w)), 30_000, what)
}

/** Feed connections the daemon logged, with whether each resumed with `since`. */
const feedConnections = (daemon: DaemonProcess) => daemon.logs().filter((l) => l.msg === 'feed client connected')

describe('syncline/client: a live replica over the daemon feed (SQLite)', () => {
  it('equals the table after random writes, across a daemon restart, and stops reconnecting once closed', async () => {
    const w = shop()
    const first = await daemonIn(w.dir)
    const port = new URL(first.url).port
    const seams = seamChecker()
    const errors: string[] = []
    const replica = subscribe({ url: first.url, token: TEST_TOKEN, connection: 'shop', entity: 'items', minDelayMs: 50, maxDelayMs: 500, onChange: seams.onChange, onError: (e) => errors.push(e.code) })
    replicas.push(replica)
    await replica.ready
    expect(replica.rows.size).toBe(200)
    expect(replica.rows.get('7')).toEqual({ id: 7, name: 'item 7', version: 1 })
    expect(replica.position).toMatch(/^feed_[0-9a-f]{8}\.\d+$/)

    const random = prng(20261201)
    const nextId = { value: 201 }
    for (let round = 0; round < 5; round++) randomWrites(w, random, 40, nextId)
    await untilEqual(replica, w, 'the replica to equal the table after random writes')

    // The server side drops the socket (SIGTERM closes clients with 1001); writes go on while it is down.
    await first.stop('SIGTERM')
    await waitFor(() => !replica.connected, 10_000, 'the replica to see the drop')
    randomWrites(w, random, 60, nextId)
    const second = await daemonIn(w.dir, port)
    randomWrites(w, random, 60, nextId)
    await untilEqual(replica, w, 'the replica to catch up after the restart')
    // It resumed from its position rather than reading a new snapshot.
    await waitFor(() => feedConnections(second).length > 0, 10_000, 'the reconnect')
    expect(feedConnections(second).map((l) => l.since)).toEqual([true])
    expect(errors).toContain('CONNECTION_LOST')
    expect(seams.problems).toEqual([])

    // close(): no reconnect, even to a daemon that comes back.
    replica.close()
    await second.stop('SIGTERM')
    const third = await daemonIn(w.dir, port)
    randomWrites(w, random, 10, nextId)
    await new Promise((r) => setTimeout(r, 1500))
    expect(feedConnections(third)).toEqual([])
    expect(replica.connected).toBe(false)
  })

  it('starts over with a fresh snapshot when the daemon answers its position with reset', async () => {
    const w = shop()
    // Retention 0: the capture's consumer is dropped once serve stopped, so the restarted serve starts a new capture (a new log) and the old position gets reset.
    const env = { SYNCLINE_WATCH_RETENTION: '0' }
    const first = await daemonIn(w.dir, undefined, env)
    const port = new URL(first.url).port
    const seams = seamChecker()
    const errors: string[] = []
    const snapshots: number[] = []
    const replica = subscribe({
      url: first.url,
      token: TEST_TOKEN,
      connection: 'shop',
      entity: 'items',
      minDelayMs: 50,
      maxDelayMs: 500,
      onChange: seams.onChange,
      onError: (e) => errors.push(e.code),
      onSnapshot: (rows) => snapshots.push(rows.size),
    })
    replicas.push(replica)
    await replica.ready
    const random = prng(99)
    const nextId = { value: 201 }
    randomWrites(w, random, 50, nextId)
    await untilEqual(replica, w, 'the replica to follow the writes')
    const before = replica.position
    await first.stop('SIGTERM')
    randomWrites(w, random, 50, nextId)
    const second = await daemonIn(w.dir, port, env)
    await untilEqual(replica, w, 'the replica to start over and catch up')
    randomWrites(w, random, 20, nextId)
    await untilEqual(replica, w, 'the replica to follow writes after the new snapshot')
    expect(feedConnections(second).map((l) => l.since)).toEqual([true])
    expect(second.logs().filter((l) => String(l.msg).startsWith('feed position not in the replay log'))).toHaveLength(1)
    expect(snapshots[0]).toBe(200)
    expect(snapshots).toHaveLength(2)
    expect(replica.position!.split('.')[0]).not.toBe(before!.split('.')[0])
    expect(seams.problems).toEqual([])
  })

  it('takes a daemon that went silent (no heartbeat) for dead and reconnects', async () => {
    // A "daemon" that accepts the feed and then says nothing: no frames, no close.
    const { WebSocketServer } = createRequire(import.meta.url)('ws') as {
      WebSocketServer: new (opts: { port: number; host: string }) => { on(e: 'connection', l: (socket: unknown, request: { url: string }) => void): void; once(e: 'listening', l: () => void): void; address(): { port: number }; close(): void; clients: Set<{ terminate(): void }> }
    }
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    cleanups.push(async () => {
      for (const client of server.clients) client.terminate()
      server.close()
    })
    await new Promise<void>((resolve) => server.once('listening', resolve))
    const urls: string[] = []
    server.on('connection', (_socket, request) => urls.push(request.url))
    const errors: string[] = []
    const replica = subscribe({ url: `http://127.0.0.1:${server.address().port}`, connection: 'shop', entity: 'items', heartbeatMs: 1000, minDelayMs: 50, maxDelayMs: 100, onError: (e) => errors.push(e.code) })
    replicas.push(replica)
    await waitFor(() => urls.length >= 2, 15_000, 'the replica to give up on the silent connection and reconnect')
    expect(urls[0]).toContain('heartbeat=1')
    expect(errors).toContain('CONNECTION_LOST')
  })

  it('rejects ready for an unknown entity and a wrong token, without retrying', async () => {
    const daemon = await daemonIn(shop().dir)
    const errors: string[] = []
    const unknown = subscribe({ url: daemon.url, token: TEST_TOKEN, connection: 'shop', entity: 'itemz', minDelayMs: 20, onError: (e) => errors.push(e.code) })
    replicas.push(unknown)
    await expect(unknown.ready).rejects.toMatchObject({ code: 'ENTITY_NOT_FOUND', message: expect.stringContaining('items') })
    const wrongToken = subscribe({ url: daemon.url, token: 'wrong-wrong-wrong-wrong', connection: 'shop', entity: 'items', minDelayMs: 20 })
    replicas.push(wrongToken)
    await expect(wrongToken.ready).rejects.toMatchObject({ code: 'AUTH_FAILED' })
    await new Promise((r) => setTimeout(r, 300))
    expect(errors).toEqual(['ENTITY_NOT_FOUND'])
    expect(feedConnections(daemon)).toHaveLength(1)
    expect(() => subscribe({ url: 'not a url', connection: 'shop', entity: 'items' })).toThrow(/url 'not a url' is not a URL/)
  })

  it("works as import { subscribe } from 'syncline/client' in plain Node 20 (ws fallback)", async () => {
    const daemon = await daemonIn(shop().dir)
    const script = `import { subscribe } from 'syncline/client'
      const r = subscribe({ url: process.argv[1], token: process.argv[2], connection: 'shop', entity: 'items' })
      await r.ready; console.log(r.rows.size); r.close()`
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, daemon.url, TEST_TOKEN], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    child.stderr.on('data', (c: Buffer) => (out += c.toString()))
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    expect({ code, out: out.trim() }).toEqual({ code: 0, out: '200' })
  })
})

describe.skipIf(!pgAvailable && !required)('syncline/client: a live replica over the daemon feed (PostgreSQL)', () => {
  it('equals the table after random writes and a daemon restart, resumed with since', async () => {
    const w = (ws = workspace('syncline-client-pg-'))
    const source = await createPgDatabase('syncline_client')
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
    w.write('syncline.yaml', `connections:\n  src: { url: ${source.url} }\n`)
    const first = await daemonIn(w.dir)
    const port = new URL(first.url).port
    const seams = seamChecker()
    const replica = subscribe({ url: first.url, token: TEST_TOKEN, connection: 'src', entity: 'items', minDelayMs: 50, maxDelayMs: 500, onChange: seams.onChange })
    replicas.push(replica)
    const random = prng(7)
    const nextId = { value: 501 }
    const write = async (count: number) => {
      for (const sql of randomStatements(random, count, nextId)) await pgQuery(source.url, sql)
    }
    await write(30) // while the snapshot is read
    await replica.ready
    await write(100)
    const want = async () => JSON.stringify(await pgQuery<Item>(source.url, 'SELECT id, name, version FROM items ORDER BY id'))
    await waitFor(async () => JSON.stringify(sorted(replica)) === (await want()), 30_000, 'the replica to equal the table')

    await first.stop('SIGTERM')
    await waitFor(() => !replica.connected, 10_000, 'the replica to see the drop')
    await write(50)
    const second = await daemonIn(w.dir, port)
    await write(50)
    await waitFor(async () => JSON.stringify(sorted(replica)) === (await want()), 30_000, 'the replica to catch up after the restart')
    expect(feedConnections(second).map((l) => l.since)).toEqual([true])
    expect(seams.problems).toEqual([])
  })
})
