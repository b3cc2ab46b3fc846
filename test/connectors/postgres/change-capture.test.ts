/**
 * PostgreSQL change capture over logical replication (pgoutput): exact
 * values, unchanged TOAST values filled in, before-images and key changes by
 * replica identity, a 100,000-row transaction in bounded batches, resume in
 * the middle of a transaction, lost slots, teardown, keepalives.
 */
import v8 from 'node:v8'
import vm from 'node:vm'
import { afterEach, describe, expect, it } from 'vitest'
import type { ChangeBatch, ChangeFeed, ChangeFeedOptions, SourceChange } from '../../../src/connectors/change-feed.js'
import { createPostgresConnector } from '../../../src/connectors/postgres/connector.js'
import type { Row } from '../../../src/values/canonical.js'
import { hasPostgres, pgQuery, PG_URL } from '../../helpers/services.js'
import { rejection, scanAll, usePgFixture } from './fixture.js'

/** A full garbage collection, so heap samples show what is live (the flag can be set at run time). */
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

/** Pulls batches from one feed's changes() across several steps of a test. */
class Reader {
  readonly #it: AsyncIterator<ChangeBatch>
  constructor(readonly feed: ChangeFeed) {
    this.#it = feed.changes()[Symbol.asyncIterator]()
  }
  /** The next batch, or a timeout error. */
  async next(timeoutMs = 10_000): Promise<ChangeBatch> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no batch within ${timeoutMs} ms`)), timeoutMs)))
    try {
      const result = await Promise.race([this.#it.next(), timeout])
      if (result.done) throw new Error('the feed ended')
      return result.value
    } finally {
      clearTimeout(timer)
    }
  }
  /** Changes until `count` arrived (empty batches skipped). */
  async take(count: number, timeoutMs = 10_000): Promise<SourceChange[]> {
    const changes: SourceChange[] = []
    while (changes.length < count) changes.push(...(await this.next(timeoutMs)).changes)
    return changes
  }
}

describe.skipIf(!(await hasPostgres()))('PostgreSQL change capture (logical replication)', () => {
  const pg_ = usePgFixture()
  const connector = () => pg_.connector()
  const feeds: ChangeFeed[] = []
  const consumers = new Set<string>()
  const unique = Math.random().toString(36).slice(2, 8)

  /** A consumer name unique on the server (slot names are server-wide). */
  const consumerName = (name: string) => `t${unique}_${name}`

  async function open(entity: string, name: string, opts: Partial<ChangeFeedOptions> = {}): Promise<ChangeFeed> {
    const consumer = consumerName(name)
    consumers.add(consumer)
    const feed = await connector().openChangeFeed!(entity, { consumer, ...opts })
    feeds.push(feed)
    return feed
  }

  // After each case: replication slots are few and shared by the whole server (and the database cannot be dropped while it has any).
  afterEach(async () => {
    for (const feed of feeds.splice(0)) await feed.close()
    for (const consumer of consumers) await connector().dropChangeFeed!(consumer)
    consumers.clear()
  })

  it('declares cdc and delivers exact values equal to what scan reads', async () => {
    expect(connector().capabilities.cdc).toBe(true)
    await pg_.sql(`CREATE TABLE exact (id bigint PRIMARY KEY, amount numeric(30,10), at timestamptz, doc json, docb jsonb, raw bytea, note text)`)
    await pg_.sql(`INSERT INTO exact VALUES (1, 1.5, '2026-01-01 00:00:00+00', '{}', '{}', '\\x00', 'old')`)
    const feed = await open('exact', 'exact')
    const snapshot: Row[] = []
    for await (const rows of feed.snapshot({ fields: ['id', 'amount', 'note'], keys: ['id'], batchSize: 10 })) snapshot.push(...rows)
    expect(snapshot).toEqual([{ id: 1, amount: '1.5000000000', note: 'old' }])
    const reader = new Reader(feed)
    await pg_.sql(
      `INSERT INTO exact VALUES (9007199254740993, 12345678901234567890.0123456789, '2026-11-21 12:00:00.123456+02', '{"b": [1, 2], "a": "x"}', '{"z": 1, "a": {"c": 2, "b": 1}}', '\\xdeadbeef00ff', 'héllo 😀 wörld')`,
    )
    const [change] = await reader.take(1)
    expect(change).toMatchObject({ type: 'create', key: [9007199254740993n] })
    expect(change!.record).toEqual({
      id: 9007199254740993n,
      amount: '12345678901234567890.0123456789',
      at: '2026-11-21T10:00:00.123456Z',
      doc: '{"a":"x","b":[1,2]}',
      docb: '{"a":{"b":1,"c":2},"z":1}',
      raw: Buffer.from('deadbeef00ff', 'hex'),
      note: 'héllo 😀 wörld',
    })
    const { rows } = await scanAll(connector(), 'exact', { fields: ['id', 'amount', 'at', 'doc', 'docb', 'raw', 'note'], keys: ['id'], after: [1] })
    expect(change!.record).toEqual(rows[0])
    expect(change!.committedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
    expect(change!.transaction).toMatch(/^\d+$/)
  })

  it('snapshot reads exactly at the feed start: a row committed after opening is in the stream, not the snapshot', async () => {
    await pg_.sql(`CREATE TABLE snap (id int PRIMARY KEY, v text)`)
    await pg_.sql(`INSERT INTO snap SELECT g, 'before' FROM generate_series(1, 5) g`)
    const feed = await open('snap', 'snap')
    // Committed after the slot's snapshot, before the snapshot is read.
    await pg_.sql(`INSERT INTO snap VALUES (6, 'after')`)
    await pg_.sql(`UPDATE snap SET v = 'changed' WHERE id = 1`)
    const rows: Row[] = []
    for await (const batch of feed.snapshot({ fields: ['id', 'v'], keys: ['id'], batchSize: 2 })) rows.push(...batch)
    expect(rows).toEqual([1, 2, 3, 4, 5].map((id) => ({ id, v: 'before' })))
    const changes = await new Reader(feed).take(2)
    expect(changes.map((c) => [c.type, c.key, c.record])).toEqual([
      ['create', [6], { id: 6, v: 'after' }],
      ['update', [1], { id: 1, v: 'changed' }],
    ])
    expect(() => feed.snapshot({ fields: ['id'], keys: ['id'], batchSize: 2 })).toThrow(/snapshot\(\) is only for/)
  })

  it('TRUNCATE cannot be delivered row by row: POSITION_LOST, so the sync repairs with a fresh snapshot', async () => {
    await pg_.sql(`CREATE TABLE trunc (id int PRIMARY KEY)`)
    const feed = await open('trunc', 'trunc')
    const reader = new Reader(feed)
    await pg_.sql(`INSERT INTO trunc VALUES (1)`)
    await reader.take(1)
    await pg_.sql(`TRUNCATE trunc`)
    const error = await rejection(reader.take(1))
    expect(error.code).toBe('POSITION_LOST')
    expect(error.message).toMatch(/truncated/)
  })

  for (const identity of ['DEFAULT', 'FULL'] as const) {
    it(`REPLICA IDENTITY ${identity}: unchanged TOAST values kept, before-images ${identity === 'FULL' ? 'given' : 'absent'}, key changes`, async () => {
      const table = `toast_${identity.toLowerCase()}`
      await pg_.sql(`CREATE TABLE ${table} (id int PRIMARY KEY, n int, body text)`)
      // Out-of-line storage without compression: the 100 kB value is TOASTed for sure.
      await pg_.sql(`ALTER TABLE ${table} ALTER COLUMN body SET STORAGE EXTERNAL`)
      await pg_.sql(`ALTER TABLE ${table} REPLICA IDENTITY ${identity}`)
      const body = 'x😀'.repeat(34_000)
      await pg_.sql(`INSERT INTO ${table} VALUES (1, 1, $1)`, [body])
      const feed = await open(table, table)
      const reader = new Reader(feed)
      await pg_.sql(`UPDATE ${table} SET n = 2 WHERE id = 1`)
      const [update] = await reader.take(1)
      expect(update!.type).toBe('update')
      expect(update!.record!.n).toBe(2)
      // Compared as a boolean: a failure must not print 100 kB.
      expect(update!.record!.body === body).toBe(true)
      await pg_.sql(`UPDATE ${table} SET id = 5, n = 3 WHERE id = 1`)
      const [keyChange] = await reader.take(1)
      expect(keyChange!.key).toEqual([5])
      expect(keyChange!.previousKey).toEqual([1])
      expect(keyChange!.record!.body === body).toBe(true)
      await pg_.sql(`DELETE FROM ${table} WHERE id = 5`)
      const [deletion] = await reader.take(1)
      expect(deletion).toMatchObject({ type: 'delete', key: [5] })
      expect(deletion!.record).toBeUndefined()
      if (identity === 'FULL') {
        expect(update!.before).toMatchObject({ id: 1, n: 1 })
        expect(keyChange!.before).toMatchObject({ id: 1, n: 2 })
        expect(deletion!.before).toMatchObject({ id: 5, n: 3 })
        expect([update, keyChange, deletion].every((c) => c!.before!.body === body)).toBe(true)
      } else {
        expect(update!.before).toBeUndefined()
        expect(update!.previousKey).toBeUndefined()
        expect(deletion!.before).toBeUndefined()
      }
    })
  }

  it('REPLICA IDENTITY DEFAULT: an update whose row is gone when read is superseded by the later delete, never a placeholder', async () => {
    await pg_.sql(`CREATE TABLE toast_gone (id int PRIMARY KEY, n int, body text NOT NULL)`)
    await pg_.sql(`ALTER TABLE toast_gone ALTER COLUMN body SET STORAGE EXTERNAL`)
    await pg_.sql(`INSERT INTO toast_gone VALUES (1, 1, $1), (2, 1, $1)`, ['z'.repeat(100_000)])
    const feed = await open('toast_gone', 'toast_gone')
    // Both committed before the stream is read: the updated rows are gone by then.
    await pg_.sql(`UPDATE toast_gone SET n = 2 WHERE id = 1`)
    await pg_.sql(`UPDATE toast_gone SET id = 3 WHERE id = 2`)
    await pg_.sql(`DELETE FROM toast_gone`)
    const changes = await new Reader(feed).take(3)
    expect(changes.map((c) => [c.type, c.key])).toEqual([
      ['delete', [2]],
      ['delete', [1]],
      ['delete', [3]],
    ])
  })

  it('streams a 100,000-row transaction in batches of at most maxBatchSize, with bounded heap, and resumes mid-transaction', async () => {
    await pg_.sql(`CREATE TABLE big (id int PRIMARY KEY, filler text)`)
    const feed = await open('big', 'big', { maxBatchSize: 500 })
    const reader = new Reader(feed)
    await pg_.sql(`INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 100000) g`)
    gc()
    const baseline = process.memoryUsage().heapUsed
    let peak = 0
    let batches = 0
    let total = 0
    let largest = 0
    let middle: SourceChange | undefined
    const transactions = new Set<string>()
    let lastId = 0
    while (total < 100_000) {
      const batch = await reader.next(30_000)
      largest = Math.max(largest, batch.changes.length)
      for (const change of batch.changes) {
        expect(change.key[0]).toBe(++lastId)
        transactions.add(change.transaction!)
      }
      total += batch.changes.length
      if (!middle && total >= 1500) middle = batch.changes[batch.changes.length - 1]
      if (++batches % 20 === 0) {
        gc()
        peak = Math.max(peak, process.memoryUsage().heapUsed - baseline)
      }
    }
    expect(total).toBe(100_000)
    expect(largest).toBeLessThanOrEqual(500)
    expect(transactions.size).toBe(1)
    // Holding the transaction would keep ~30 MB of row text alone live; streaming keeps about one batch (measured: < 1 MB).
    console.info(`100,000-row transaction: ${batches} batches, live heap growth at most ${(peak / 1e6).toFixed(1)} MB`)
    expect(peak).toBeLessThan(10e6)
    await feed.close()

    // From a position inside the transaction: the changes after it, none up to it.
    const resumed = await open('big', 'big', { from: middle!.position, maxBatchSize: 500 })
    const again = new Reader(resumed)
    const [first] = await again.take(1, 30_000)
    expect(first!.key).toEqual([(middle!.key[0] as number) + 1])
    await resumed.close()
  })

  it('resumes after an acknowledged position: later changes come, earlier ones do not', async () => {
    await pg_.sql(`CREATE TABLE resume (id int PRIMARY KEY)`)
    const feed = await open('resume', 'resume')
    const reader = new Reader(feed)
    await pg_.sql(`INSERT INTO resume VALUES (1)`)
    await pg_.sql(`INSERT INTO resume VALUES (2)`)
    const changes = await reader.take(2)
    await feed.ack(changes[0]!.position)
    await feed.close()
    await pg_.sql(`INSERT INTO resume VALUES (3)`)
    const resumed = await open('resume', 'resume', { from: changes[0]!.position })
    expect(resumed.start).toBe(changes[0]!.position)
    const later = await new Reader(resumed).take(2)
    expect(later.map((c) => c.key)).toEqual([[2], [3]])
    await resumed.close()
  })

  it('an idle feed moves its position on with empty batches (other tables written), and ack releases WAL', async () => {
    await pg_.sql(`CREATE TABLE quiet (id int PRIMARY KEY)`)
    await pg_.sql(`CREATE TABLE busy (id int PRIMARY KEY, filler text)`)
    const feed = await open('quiet', 'quiet')
    const reader = new Reader(feed)
    await pg_.sql(`INSERT INTO busy SELECT g, repeat('y', 500) FROM generate_series(1, 2000) g`)
    let batch: ChangeBatch
    do batch = await reader.next(15_000)
    while (batch.position === feed.start)
    expect(batch.changes).toEqual([])
    await feed.ack(batch.position)
    // The server applies the acknowledgement when it reads it.
    await new Promise((resolve) => setTimeout(resolve, 500))
    const [status] = (await connector().listChangeFeeds!()).filter((s) => s.consumer === consumerName('quiet'))
    expect(status).toMatchObject({ consumer: consumerName('quiet'), entity: 'public.quiet', active: true, position: batch.position })
    // Other sessions on the server keep writing WAL, so the lag is only known to be a byte count.
    expect(status!.lagBytes).toBeGreaterThanOrEqual(0)
    expect(status!.retainedBytes).toBeGreaterThanOrEqual(0)
  })

  it('a dropped connection is a transient CONNECTION_LOST error', async () => {
    await pg_.sql(`CREATE TABLE dropped (id int PRIMARY KEY)`)
    const feed = await open('dropped', 'dropped')
    const reader = new Reader(feed)
    await pg_.sql(`INSERT INTO dropped VALUES (1)`)
    await reader.take(1)
    await pgQuery(PG_URL, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1`, [`syncline_${consumerName('dropped')}`])
    const error = await rejection(reader.take(1))
    expect(error.code).toBe('CONNECTION_LOST')
    expect(error.failure).toBe('transient')
  })

  it('a dropped slot makes a resume fail with POSITION_LOST naming the slot', async () => {
    await pg_.sql(`CREATE TABLE lost (id int PRIMARY KEY)`)
    const feed = await open('lost', 'lost')
    const position = feed.start
    await feed.close()
    const slot = `syncline_${consumerName('lost')}`
    await pgQuery(PG_URL, `SELECT pg_drop_replication_slot($1)`, [slot])
    const error = await rejection(open('lost', 'lost', { from: position }))
    expect(error.code).toBe('POSITION_LOST')
    expect(error.message).toContain(slot)
    expect(error.message).toMatch(/without a position/)
  })

  it('a slot dropped before the stream starts is POSITION_LOST from changes()', async () => {
    await pg_.sql(`CREATE TABLE lost_late (id int PRIMARY KEY)`)
    const feed = await open('lost_late', 'lost_late')
    await pgQuery(PG_URL, `SELECT pg_drop_replication_slot($1)`, [`syncline_${consumerName('lost_late')}`])
    const error = await rejection(new Reader(feed).take(1))
    expect(error.code).toBe('POSITION_LOST')
    expect(error.message).toContain(`syncline_${consumerName('lost_late')}`)
  })

  it('stored generated columns, which pgoutput leaves out, are in the record as scan reads them', async () => {
    await pg_.sql(`CREATE TABLE generated (id int PRIMARY KEY, qty int, total int GENERATED ALWAYS AS (qty * 2) STORED)`)
    const feed = await open('generated', 'generated')
    const reader = new Reader(feed)
    await pg_.sql(`INSERT INTO generated (id, qty) VALUES (1, 21)`)
    const [change] = await reader.take(1)
    expect(change!.record).toEqual({ id: 1, qty: 21, total: 42 })
  })

  it('dropChangeFeed removes slot and publication, and is idempotent', async () => {
    await pg_.sql(`CREATE TABLE gone (id int PRIMARY KEY)`)
    const feed = await open('gone', 'gone')
    const reader = new Reader(feed)
    await pg_.sql(`INSERT INTO gone VALUES (1)`)
    await reader.take(1)
    await feed.close()
    // Right after the reader disconnects the slot may still be active: the drop waits for it.
    await connector().dropChangeFeed!(consumerName('gone'))
    await connector().dropChangeFeed!(consumerName('gone'))
    const name = `syncline_${consumerName('gone')}`
    expect(await pg_.sql(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [name])).toEqual([])
    expect(await pg_.sql(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [name])).toEqual([])
  })

  it("closing the connector closes its feeds: the slot is free at once for the consumer's next feed", async () => {
    await pg_.sql(`CREATE TABLE closing (id int PRIMARY KEY)`)
    const own = createPostgresConnector({ name: 'own', url: pg_.url() })
    const consumer = consumerName('closing')
    consumers.add(consumer)
    const feed = await own.openChangeFeed!('closing', { consumer })
    const reader = new Reader(feed)
    await pg_.sql(`INSERT INTO closing VALUES (1)`)
    const [first] = await reader.take(1)
    await own.close()
    const [slot] = await pg_.sql<{ active: boolean }>(`SELECT active FROM pg_replication_slots WHERE slot_name = $1`, [`syncline_${consumer}`])
    expect(slot!.active).toBe(false)
    await pg_.sql(`INSERT INTO closing VALUES (2)`)
    const again = await open('closing', 'closing', { from: first!.position })
    expect((await new Reader(again).take(1)).map((c) => c.key)).toEqual([[2]])
  })

  it('refuses a table without replica identity, with the fix', async () => {
    await pg_.sql(`CREATE TABLE nokey (id int, v text)`)
    const error = await rejection(open('nokey', 'nokey', { keys: ['id'] }))
    expect(error.code).toBe('CDC_NOT_READY')
    expect(error.message).toContain('REPLICA IDENTITY FULL')
  })

  it('answers keepalives: a feed not read for longer than wal_sender_timeout, while other tables are written, stays connected', { timeout: 30_000 }, async () => {
    await pg_.sql(`CREATE TABLE idle (id int PRIMARY KEY)`)
    // wal_sender_timeout is settable per connection (PostgreSQL 12+): a short one for this feed only, not server-wide.
    const url = new URL(pg_.url())
    // 3 s: the server asks for a reply after 1.5 s and gives up at 3 s, before the feed's own 5 s progress ping.
    url.searchParams.set('options', '-c wal_sender_timeout=3000')
    const short = createPostgresConnector({ name: 'short', url: url.toString() })
    const consumer = consumerName('idle')
    consumers.add(consumer)
    const feed = await short.openChangeFeed!('idle', { consumer })
    try {
      const reader = new Reader(feed)
      const slot = `syncline_${consumer}`
      await pg_.sql(`INSERT INTO idle VALUES (1)`)
      await reader.take(1)
      const [before] = await pgQuery<{ pid: number }>(PG_URL, `SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1`, [slot])
      // Meanwhile other tables' transactions, each one a keepalive the server sends while this consumer is not reading.
      await pg_.sql(`CREATE TABLE elsewhere (id int PRIMARY KEY)`)
      const until = Date.now() + 7_000
      for (let id = 1; Date.now() < until; id++) {
        if (id <= 1500) await pg_.sql(`INSERT INTO elsewhere VALUES ($1)`, [id])
        else await new Promise((resolve) => setTimeout(resolve, 100))
      }
      await pg_.sql(`INSERT INTO idle VALUES (2)`)
      const [change] = await reader.take(1)
      expect(change!.key).toEqual([2])
      const [after] = await pgQuery<{ pid: number }>(PG_URL, `SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1`, [slot])
      expect(after!.pid).toBe(before!.pid)
    } finally {
      await feed.close()
      await short.close()
    }
  })

  it('a user without what logical replication needs gets CDC_NOT_READY with the fix; a publication made by the owner is used as it is', async () => {
    const role = `syncline_cc_${unique}`
    await pg_.sql(`CREATE ROLE "${role}" LOGIN NOSUPERUSER NOREPLICATION`)
    const url = new URL(pg_.url())
    url.username = role
    const limited = createPostgresConnector({ name: 'limited', url: url.toString() })
    const consumer = consumerName('limited')
    consumers.add(consumer)
    try {
      await pg_.sql(`CREATE TABLE guarded (id int PRIMARY KEY)`)
      await pg_.sql(`GRANT SELECT ON guarded TO "${role}"`)
      await pg_.sql(`GRANT CREATE ON DATABASE "${new URL(pg_.url()).pathname.slice(1)}" TO "${role}"`)
      // Not the table's owner: it cannot publish it.
      const notOwner = await rejection(limited.openChangeFeed!('guarded', { consumer }))
      expect(notOwner.code).toBe('CDC_NOT_READY')
      expect(notOwner.message).toContain(`CREATE PUBLICATION "syncline_${consumer}" FOR TABLE`)
      // The owner publishes it; then the missing REPLICATION attribute is what is left.
      await pg_.sql(`CREATE PUBLICATION "syncline_${consumer}" FOR TABLE guarded`)
      const noReplication = await rejection(limited.openChangeFeed!('guarded', { consumer }))
      expect(noReplication.code).toBe('CDC_NOT_READY')
      expect(noReplication.message).toContain(`ALTER ROLE "${role}" REPLICATION`)
      expect(noReplication.message).toContain('cdc: triggers')
      await pg_.sql(`ALTER ROLE "${role}" REPLICATION`)
      const feed = await limited.openChangeFeed!('guarded', { consumer })
      const reader = new Reader(feed)
      await pg_.sql(`INSERT INTO guarded VALUES (1)`)
      expect((await reader.take(1)).map((c) => c.key)).toEqual([[1]])
      await feed.close()
      // Its slot goes; the owner's publication, which it may not drop, keeps no WAL.
      await limited.dropChangeFeed!(consumer)
      expect(await pg_.sql(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [`syncline_${consumer}`])).toEqual([])
    } finally {
      await limited.close()
      await connector().dropChangeFeed!(consumer)
      consumers.delete(consumer)
      await pg_.sql(`DROP OWNED BY "${role}"`)
      await pg_.sql(`DROP ROLE "${role}"`)
    }
  })
})
