/**
 * PostgreSQL trigger-based change capture (`cdc: triggers`) against the real
 * server: exact values whatever the writer's session, commit order under
 * concurrent writers, a user without REPLICATION, pruning, teardown.
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ChangeBatch, ChangeFeed, SourceChange } from '../../../src/connectors/change-feed.js'
import type { Connector } from '../../../src/connectors/connector.js'
import { createPostgresConnector } from '../../../src/connectors/postgres/connector.js'
import type { Row } from '../../../src/values/canonical.js'
import { createPgDatabase, hasPostgres, pgQuery } from '../../helpers/services.js'
import { rejection, scanAll } from './fixture.js'

const available = await hasPostgres()

/** Reads a feed's batches one at a time, with a deadline. */
class Reader {
  readonly #iterator: AsyncIterator<ChangeBatch>
  readonly changes: SourceChange[] = []
  position: string | undefined
  constructor(feed: ChangeFeed) {
    this.#iterator = feed.changes()[Symbol.asyncIterator]()
  }
  /** Read batches until at least `count` changes arrived in all; fails after `ms`. */
  async until(count: number, ms = 4000): Promise<SourceChange[]> {
    const deadline = Date.now() + ms
    while (this.changes.length < count) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`only ${this.changes.length} of ${count} changes arrived`)
      let timer: NodeJS.Timeout | undefined
      const next = await Promise.race([this.#iterator.next(), new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), left)))])
      clearTimeout(timer)
      if (next === 'timeout') throw new Error(`only ${this.changes.length} of ${count} changes arrived`)
      if (next.done) throw new Error('the feed ended')
      this.changes.push(...next.value.changes)
      this.position = next.value.position
    }
    return this.changes
  }
}

async function client(url: string, settings: string[] = []): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  for (const setting of settings) await c.query(`SET ${setting}`)
  return c
}

/** A writer whose session prints every value differently from the connector's (UTC, ISO, all float digits, hex). */
const ODD_SESSION = [`TimeZone = 'Europe/Paris'`, `DateStyle = 'SQL, DMY'`, 'extra_float_digits = -3', `bytea_output = 'escape'`, `IntervalStyle = 'sql_standard'`]

describe.skipIf(!available)('PostgreSQL change capture with cdc: triggers', () => {
  let database: Awaited<ReturnType<typeof createPgDatabase>>
  let connector: Connector
  const feeds: ChangeFeed[] = []
  const sql = (text: string, params: unknown[] = []) => pgQuery(database.url, text, params)
  const open = async (entity: string, consumer: string, from?: string) => {
    const feed = await connector.openChangeFeed!(entity, { consumer, ...(from ? { from } : {}) })
    feeds.push(feed)
    return feed
  }

  beforeAll(async () => {
    database = await createPgDatabase('syncline_trg')
    connector = createPostgresConnector({ name: 'shop', url: database.url, cdc: 'triggers' })
  })
  afterAll(async () => {
    for (const feed of feeds) await feed.close()
    await connector?.close()
    await database?.drop()
  })

  it('declares cdc and reports trigger readiness', async () => {
    expect(connector.capabilities.cdc).toBe(true)
    const report = await connector.check()
    expect(report.cdc).toEqual({ ready: true })
    expect(report.details.cdc_method).toBe('triggers')
  })

  it('delivers values exactly as scan reads them, whatever the writer session', async () => {
    await sql(`CREATE TABLE exact (id bigint PRIMARY KEY, big bigint, amount numeric(30,10), at timestamptz, local timestamp,
                 doc json, docb jsonb, data bytea, ratio float8, label text, tags text[], day date, span interval)`)
    await sql(`INSERT INTO exact (id, label) VALUES (0, 'before the feed')`)
    const feed = await open('exact', 'exact_values')
    const reader = new Reader(feed)
    // The snapshot holds what was there at start, and nothing written after it.
    const paris = await client(database.url, ODD_SESSION)
    try {
      await paris.query(`INSERT INTO exact VALUES (1, 9007199254740993, 12345678901234567890.0123456789, '2026-11-21 10:00:00.123456',
                           '2026-11-21 10:00:00.5', '{"b": 1, "a": [1.10, "x"]}', '{"z": 12345678901234567890.5}', '\\x00ff10', 1 / 3::float8, 'ü ☃', '{a,"b c"}', '2026-03-04', '1 day 02:03:04.5')`)
      await paris.query(`UPDATE exact SET big = -9223372036854775808, amount = -0.0000000001, at = '1999-12-31 23:59:59.999999+14' WHERE id = 1`)
      await paris.query(`INSERT INTO exact (id) VALUES (2)`)
      await paris.query(`DELETE FROM exact WHERE id = 2`)
    } finally {
      await paris.end()
    }
    const snapshot: Row[] = []
    for await (const rows of feed.snapshot({ fields: ['id', 'label'], keys: ['id'], batchSize: 10 })) snapshot.push(...rows)
    expect(snapshot).toEqual([{ id: 0, label: 'before the feed' }])

    const changes = await reader.until(4)
    expect(changes.map((c) => c.type)).toEqual(['create', 'update', 'create', 'delete'])
    const [created, updated, , deleted] = changes
    expect(created!.record).toMatchObject({
      id: 1,
      big: 9007199254740993n,
      amount: '12345678901234567890.0123456789',
      // Written as Paris local time (UTC+1 in November) by a session that prints DMY dates.
      at: '2026-11-21T09:00:00.123456Z',
      local: '2026-11-21T10:00:00.500000',
      ratio: 1 / 3,
      label: 'ü ☃',
      tags: '["a","b c"]',
      day: '2026-03-04',
      span: '1 day 02:03:04.5',
    })
    expect(Buffer.from(created!.record!.data as Uint8Array).toString('hex')).toBe('00ff10')
    expect(updated!.before).toEqual(created!.record)
    expect(updated!.record).toMatchObject({ big: -9223372036854775808n, amount: '-0.0000000001', at: '1999-12-31T09:59:59.999999Z' })
    expect(deleted!.record).toBeUndefined()
    expect(deleted!.key).toEqual([2])
    expect(deleted!.before).toMatchObject({ id: 2 })
    // Every field equals what scan reads for the row now.
    const fields = ['id', 'big', 'amount', 'at', 'local', 'doc', 'docb', 'data', 'ratio', 'label', 'tags', 'day', 'span']
    const { rows } = await scanAll(connector, 'exact', { fields, keys: ['id'] })
    expect(updated!.record).toEqual(rows.find((r) => r.id === 1))
    expect(created!.committedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
    expect(created!.transaction).not.toBe(updated!.transaction)
  })

  it('delivers concurrent transactions in commit order, and a resumed feed loses neither', async () => {
    await sql('CREATE TABLE orders (id int PRIMARY KEY, note text)')
    const feed = await open('orders', 'commit_order')
    const reader = new Reader(feed)
    const early = await client(database.url)
    const late = await client(database.url)
    try {
      // The transaction that writes first (lower sequence numbers) commits last.
      await early.query('BEGIN')
      await early.query(`INSERT INTO orders VALUES (1, 'early, committed second')`)
      await late.query('BEGIN')
      await late.query(`INSERT INTO orders VALUES (2, 'late, committed first')`)
      await late.query('COMMIT')
      const first = await reader.until(1)
      expect(first.map((c) => c.key)).toEqual([[2]])
      const afterLate = reader.position!
      await early.query(`INSERT INTO orders VALUES (3, 'early again')`)
      await early.query('COMMIT')
      const all = await reader.until(3)
      expect(all.map((c) => c.key)).toEqual([[2], [1], [3]])
      // The transaction's changes are contiguous and share its id.
      expect(all[1]!.transaction).toBe(all[2]!.transaction)
      await feed.close()
      // Resuming after the late transaction still brings the early one, which committed after it.
      const resumed = new Reader(await open('orders', 'commit_order', afterLate))
      expect((await resumed.until(2)).map((c) => c.key)).toEqual([[1], [3]])
    } finally {
      await early.end()
      await late.end()
    }
  })

  it('orders two transactions on the same row as they committed, even when read together', async () => {
    await sql('CREATE TABLE counters (id int PRIMARY KEY, n int)')
    await sql('INSERT INTO counters VALUES (1, 0), (2, 0)')
    const feed = await open('counters', 'same_row')
    const a = await client(database.url)
    const b = await client(database.url)
    try {
      await b.query('BEGIN')
      await b.query('UPDATE counters SET n = 100 WHERE id = 2') // b's first change has the lowest sequence
      await a.query('BEGIN')
      await a.query('UPDATE counters SET n = 1 WHERE id = 1')
      const waiting = b.query('UPDATE counters SET n = n + 10 WHERE id = 1') // waits for a's row lock
      await a.query('COMMIT')
      await waiting
      await b.query('COMMIT')
      const changes = await new Reader(feed).until(3)
      const row1 = changes.filter((c) => c.key[0] === 1).map((c) => c.record!.n)
      expect(row1).toEqual([1, 11])
    } finally {
      await a.end()
      await b.end()
    }
  })

  it('splits a transaction larger than maxBatchSize over batches, resumable inside it', async () => {
    await sql('CREATE TABLE bulk (id int PRIMARY KEY)')
    const feed = await connector.openChangeFeed!('bulk', { consumer: 'big_tx', maxBatchSize: 1000 })
    feeds.push(feed)
    await sql('INSERT INTO bulk SELECT generate_series(1, 2500)')
    const sizes: number[] = []
    const positions: string[] = []
    for await (const batch of feed.changes()) {
      sizes.push(batch.changes.length)
      positions.push(batch.position)
      if (sizes.reduce((a, b) => a + b, 0) >= 2500) break
    }
    expect(sizes).toEqual([1000, 1000, 500])
    await feed.close()
    const resumed = new Reader(await open('bulk', 'big_tx', positions[0]))
    const rest = await resumed.until(1500)
    expect(rest.map((c) => c.key[0])).toEqual(Array.from({ length: 1500 }, (_, i) => i + 1001))
  })

  it('captures a TRUNCATE as a delete of every row', async () => {
    await sql('CREATE TABLE scratch (id int PRIMARY KEY, v text)')
    await sql(`INSERT INTO scratch VALUES (1, 'a'), (2, 'b')`)
    const reader = new Reader(await open('scratch', 'truncate'))
    await sql('TRUNCATE scratch')
    const changes = await reader.until(2)
    expect(changes.map((c) => [c.type, c.key, c.before])).toEqual([
      ['delete', [1], { id: 1, v: 'a' }],
      ['delete', [2], { id: 2, v: 'b' }],
    ])
  })

  it('a column change with changes pending is SCHEMA_DRIFT, not a wrong record', async () => {
    await sql('CREATE TABLE drift (id int PRIMARY KEY, a text)')
    const feed = await open('drift', 'drift')
    await sql(`INSERT INTO drift VALUES (1, 'x')`)
    await sql('ALTER TABLE drift ADD COLUMN b int')
    const error = await rejection(new Reader(feed).until(1))
    expect(error.code).toBe('SCHEMA_DRIFT')
    expect(error.message).toMatch(/drift.*columns changed/)
  })

  it('a column added while nothing is pending appears in the next records', async () => {
    await sql('CREATE TABLE grows (id int PRIMARY KEY, a text)')
    const reader = new Reader(await open('grows', 'grows'))
    await sql(`INSERT INTO grows VALUES (1, 'x')`)
    await reader.until(1)
    await sql('ALTER TABLE grows ADD COLUMN b int')
    await sql(`INSERT INTO grows VALUES (2, 'y', 7)`)
    expect((await reader.until(2))[1]!.record).toEqual({ id: 2, a: 'y', b: 7 })
  })

  it('an update that changes the key carries the previous key', async () => {
    await sql('CREATE TABLE renumbered (id int PRIMARY KEY, v text)')
    await sql(`INSERT INTO renumbered VALUES (1, 'a')`)
    const reader = new Reader(await open('renumbered', 'renumbered'))
    await sql('UPDATE renumbered SET id = 5 WHERE id = 1')
    await sql(`UPDATE renumbered SET v = 'b' WHERE id = 5`)
    const [moved, edited] = await reader.until(2)
    expect(moved).toMatchObject({ type: 'update', key: [5], previousKey: [1], record: { id: 5, v: 'a' }, before: { id: 1, v: 'a' } })
    expect(edited!.previousKey).toBeUndefined()
  })

  it('under concurrent writers, replaying the stream (resumed midway) rebuilds the table exactly', async () => {
    await sql('CREATE TABLE busy (id int PRIMARY KEY, n int NOT NULL)')
    await sql('INSERT INTO busy SELECT g, 0 FROM generate_series(1, 10) g')
    const feed = await open('busy', 'busy')
    const replica = new Map<number, number>()
    for await (const rows of feed.snapshot({ fields: ['n'], keys: ['id'], batchSize: 4 })) for (const r of rows) replica.set(r.id as number, r.n as number)
    const writers = await Promise.all(Array.from({ length: 6 }, () => client(database.url)))
    const pause = () => new Promise((resolve) => setTimeout(resolve, Math.random() * 4))
    const work = writers.map(async (w, i) => {
      for (let t = 0; t < 25; t++) {
        // Rows in ascending id order within a transaction, so writers wait for each other but never deadlock.
        const ids = [...new Set(Array.from({ length: 3 }, () => 1 + Math.floor(Math.random() * 14)))].sort((a, b) => a - b)
        await w.query('BEGIN')
        try {
          for (const id of ids) {
            if (Math.random() < 0.15) await w.query('DELETE FROM busy WHERE id = $1', [id])
            else await w.query('INSERT INTO busy VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET n = busy.n + $2', [id, i + 1])
            await pause()
          }
          await w.query('SAVEPOINT s')
          await w.query('UPDATE busy SET n = -999 WHERE id = $1', [ids[0]])
          await w.query('ROLLBACK TO SAVEPOINT s')
          await w.query(Math.random() < 0.1 ? 'ROLLBACK' : 'COMMIT')
        } catch (error) {
          // A deadlock victim (ON CONFLICT's speculative inserts can still deadlock) rolls back like any writer would.
          if ((error as { code?: string }).code !== '40P01') throw error
          await w.query('ROLLBACK')
        }
      }
    })
    const apply = (changes: SourceChange[]) => {
      for (const c of changes) {
        if (c.type === 'delete') replica.delete(c.key[0] as number)
        else replica.set(c.key[0] as number, c.record!.n as number)
      }
    }
    try {
      // Half way through, stop, and carry on from the last batch's position.
      const first = new Reader(feed)
      await first.until(60, 20_000)
      apply(first.changes)
      await feed.close()
      const rest = new Reader(await open('busy', 'busy', first.position!))
      await Promise.all(work)
      const expected = new Map((await sql('SELECT id, n FROM busy')).map((r) => [r.id as number, r.n as number]))
      const total = Number((await sql(`SELECT count(*) AS n FROM syncline.changes WHERE entity = 'public.busy'`))[0]!.n)
      const got = await rest.until(total - first.changes.length, 20_000)
      apply(got)
      expect(new Map([...replica].sort((a, b) => a[0] - b[0]))).toEqual(new Map([...expected].sort((a, b) => a[0] - b[0])))
      // Each transaction's changes are contiguous: a transaction id never comes back after another.
      const order = [...first.changes, ...got].map((c) => c.transaction)
      const finished = new Set<string | undefined>()
      for (let i = 1; i < order.length; i++) {
        if (order[i] !== order[i - 1]) {
          finished.add(order[i - 1])
          expect(finished.has(order[i])).toBe(false)
        }
      }
      expect(got.some((c) => c.record?.n === -999)).toBe(false)
    } finally {
      await Promise.allSettled(work)
      for (const w of writers) await w.end()
    }
  }, 60_000)

  it('listChangeFeeds tells an open feed from a closed one, even when its iteration was abandoned', async () => {
    await sql('CREATE TABLE watched (id int PRIMARY KEY)')
    const feed = await open('watched', 'watched')
    const reader = new Reader(feed)
    await sql('INSERT INTO watched VALUES (1)')
    await reader.until(1) // the iterator stays suspended: nobody calls return()
    const active = async () => (await connector.listChangeFeeds!()).find((s) => s.consumer === 'watched')?.active
    expect(await active()).toBe(true)
    await feed.close()
    // The server forgets a closed connection a moment after it closed.
    for (let i = 0; i < 20 && (await active()); i++) await new Promise((resolve) => setTimeout(resolve, 100))
    expect(await active()).toBe(false)
  })

  it('closing the connector closes its open feeds and their connections', async () => {
    await sql('CREATE TABLE closing (id int PRIMARY KEY)')
    const own = createPostgresConnector({ name: 'own', url: database.url, cdc: 'triggers' })
    const feed = await own.openChangeFeed!('closing', { consumer: 'closing' })
    const iterator = feed.changes()[Symbol.asyncIterator]()
    const pending = iterator.next()
    await new Promise((resolve) => setTimeout(resolve, 200))
    await own.close()
    expect((await pending).done).toBe(true)
    const listening = async () => (await sql(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'syncline feed closing'`)).length
    for (let i = 0; i < 20 && (await listening()); i++) await new Promise((resolve) => setTimeout(resolve, 100))
    expect(await listening()).toBe(0)
    await connector.dropChangeFeed!('closing')
  })

  it('wakes on NOTIFY instead of waiting for the backstop poll', async () => {
    await sql('CREATE TABLE pings (id int PRIMARY KEY)')
    const feed = await open('pings', 'latency')
    const reader = new Reader(feed)
    await reader.until(0)
    await new Promise((resolve) => setTimeout(resolve, 300)) // let the feed go to sleep
    const started = Date.now()
    await sql('INSERT INTO pings VALUES (1)')
    await reader.until(1, 3000)
    expect(Date.now() - started).toBeLessThan(1000)
  })

  it('prunes the change log after ack, up to the slowest consumer of the entity', async () => {
    await sql('CREATE TABLE items (id int PRIMARY KEY)')
    const fast = await open('items', 'prune_fast')
    const slow = await open('items', 'prune_slow')
    await sql('INSERT INTO items SELECT generate_series(1, 5)')
    const fastReader = new Reader(fast)
    const slowReader = new Reader(slow)
    await fastReader.until(5)
    await slowReader.until(5)
    const logged = async () => Number((await sql(`SELECT count(*) AS n FROM syncline.changes WHERE entity = 'public.items'`))[0]!.n)
    expect(await logged()).toBe(5)
    await fast.ack(fastReader.position!)
    expect(await logged()).toBe(5)
    await slow.ack(slowReader.changes[2]!.position)
    expect(await logged()).toBe(2)
    await slow.ack(slowReader.position!)
    expect(await logged()).toBe(0)
    // A position before the acknowledged one can no longer be served.
    const lost = await rejection(connector.openChangeFeed!('items', { consumer: 'prune_slow', from: slowReader.changes[0]!.position }))
    expect(lost.code).toBe('POSITION_LOST')
    const status = await connector.listChangeFeeds!()
    expect(status.find((s) => s.consumer === 'prune_slow')).toMatchObject({ entity: 'public.items', pendingChanges: 0, position: slowReader.position })
  })

  it('dropChangeFeed removes the consumer, then the trigger, then the schema', async () => {
    await sql('CREATE TABLE gone (id int PRIMARY KEY)')
    const feed = await open('gone', 'drop_me')
    await sql('INSERT INTO gone VALUES (1)')
    const reader = new Reader(feed)
    await reader.until(1)
    await feed.close()
    const triggers = async () => (await sql(`SELECT DISTINCT tgrelid::regclass::text AS t FROM pg_trigger WHERE tgname LIKE 'syncline%' ORDER BY 1`)).map((r) => r.t)
    expect(await triggers()).toContain('gone')
    await connector.dropChangeFeed!('drop_me')
    expect(await triggers()).not.toContain('gone')
    expect(await triggers()).not.toHaveLength(0) // other tests' consumers keep theirs
    const lost = await rejection(connector.openChangeFeed!('gone', { consumer: 'drop_me', from: reader.position! }))
    expect(lost.code).toBe('POSITION_LOST')
    await connector.dropChangeFeed!('drop_me') // idempotent
    for (const consumer of (await connector.listChangeFeeds!()).map((s) => s.consumer)) await connector.dropChangeFeed!(consumer)
    expect(await triggers()).toEqual([])
    expect(await sql(`SELECT 1 FROM pg_namespace WHERE nspname = 'syncline'`)).toEqual([])
  })
})

describe.skipIf(!available)('cdc: triggers for a user without REPLICATION', () => {
  let database: Awaited<ReturnType<typeof createPgDatabase>>
  const role = `syncline_trg_${process.pid}_${Math.random().toString(36).slice(2, 6)}`
  let connector: Connector | undefined
  let auto: Connector | undefined

  beforeAll(async () => {
    database = await createPgDatabase('syncline_trg_role')
    await pgQuery(database.url, `CREATE ROLE "${role}" LOGIN PASSWORD 'pw-${role}' NOREPLICATION NOSUPERUSER`)
    await pgQuery(database.url, 'CREATE TABLE accounts (id int PRIMARY KEY, balance numeric(12,2))')
    await pgQuery(database.url, `GRANT SELECT ON accounts TO "${role}"`)
    const url = new URL(database.url)
    url.username = role
    connector = createPostgresConnector({ name: 'limited', url: url.toString(), password: `pw-${role}`, cdc: 'triggers' })
    auto = createPostgresConnector({ name: 'limited_auto', url: url.toString(), password: `pw-${role}` })
  })
  afterAll(async () => {
    await connector?.close()
    await auto?.close()
    await database?.drop()
    await pgQuery(database.url.replace(/\/[^/]*$/, '/postgres'), `DROP ROLE IF EXISTS "${role}"`)
  })

  it('says which GRANT is missing, then captures once granted', async () => {
    const limited = connector!
    const logical = await auto!.check()
    expect(logical.cdc.ready).toBe(false)
    expect(logical.cdc.reason).toMatch(/REPLICATION.*cdc: triggers/)

    const before = await limited.check()
    expect(before.cdc.ready).toBe(false)
    expect(before.cdc.reason).toContain(`GRANT CREATE ON DATABASE "${database.name}" TO "${role}"`)
    const noSchema = await rejection(limited.openChangeFeed!('accounts', { consumer: 'limited' }))
    expect(noSchema.code).toBe('CDC_NOT_READY')
    expect(noSchema.message).toContain(`GRANT CREATE ON DATABASE "${database.name}" TO "${role}"`)

    await pgQuery(database.url, `GRANT CREATE ON DATABASE "${database.name}" TO "${role}"`)
    expect((await limited.check()).cdc).toEqual({ ready: true })
    expect((await limited.check()).details.trigger_privilege_fix).toContain(`GRANT TRIGGER ON public.accounts TO "${role}"`)
    const noTrigger = await rejection(limited.openChangeFeed!('accounts', { consumer: 'limited' }))
    expect(noTrigger.code).toBe('CDC_NOT_READY')
    expect(noTrigger.message).toContain(`GRANT TRIGGER ON "public"."accounts" TO "${role}"`)

    await pgQuery(database.url, `GRANT TRIGGER ON accounts TO "${role}"`)
    const feed = await limited.openChangeFeed!('accounts', { consumer: 'limited' })
    try {
      // The application writes as the table's owner, who has no privilege on the change log.
      await pgQuery(database.url, `INSERT INTO accounts VALUES (1, 10.50)`)
      await pgQuery(database.url, `UPDATE accounts SET balance = 11.25 WHERE id = 1`)
      const reader = new Reader(feed)
      const changes = await reader.until(2)
      expect(changes.map((c) => [c.type, c.record])).toEqual([
        ['create', { id: 1, balance: '10.50' }],
        ['update', { id: 1, balance: '11.25' }],
      ])
      await feed.ack(reader.position!)
    } finally {
      await feed.close()
    }
    // Not the table's owner, yet its last consumer takes the trigger with it.
    await limited.dropChangeFeed!('limited')
    expect(await pgQuery(database.url, `SELECT 1 FROM pg_trigger WHERE tgname LIKE 'syncline%'`)).toEqual([])
  })
})
