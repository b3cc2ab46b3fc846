/**
 * Conformance: change capture (src/connectors/change-feed.ts), for every
 * connector whose capabilities say `cdc`. Writes go through `apply` (one
 * apply is one transaction), through a second connector on the same
 * datasource where the harness gives one: a feed must see every
 * connection's writes, not only its own connector's.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { ChangeFeed, ChangeFeedOptions, SourceChange } from '../../src/connectors/change-feed.js'
import type { Connector } from '../../src/connectors/connector.js'
import { SynclineError } from '../../src/errors.js'
import type { KeyValues, Row } from '../../src/values/canonical.js'
import { EVERY_TYPE_FIELDS, EVERY_TYPE_ROWS } from './every-type.js'
import { FeedReader, shape } from './feed-reader.js'
import { expectRows, field, rejection, scanAll, seed, useOpened } from './fixtures.js'
import { HARNESSES, type ConnectorHarness } from './harnesses.js'

/** What probing a harness found: whether it captures changes and has the methods that takes. */
interface Probe {
  harness: ConnectorHarness
  cdc: boolean
  methods: { openChangeFeed: boolean; dropChangeFeed: boolean }
}

async function probe(harness: ConnectorHarness): Promise<Probe | undefined> {
  if (!(await harness.available())) return undefined
  const opened = await harness.open()
  try {
    const c = opened.connector
    return { harness, cdc: c.capabilities.cdc, methods: { openChangeFeed: typeof c.openChangeFeed === 'function', dropChangeFeed: typeof c.dropChangeFeed === 'function' } }
  } finally {
    await opened.cleanup()
  }
}

const probes = (await Promise.all(HARNESSES.map(probe))).filter((p): p is Probe => p !== undefined)

describe('change capture: capability agreement', () => {
  it('every connector with the cdc capability opens and drops change feeds', () => {
    const missing = probes.filter((p) => p.cdc && !(p.methods.openChangeFeed && p.methods.dropChangeFeed)).map((p) => p.harness.kind)
    expect(missing).toEqual([])
  })
})

const SMALL = [field('id', 'integer', { nullable: false }), field('name', 'text')]
const row = (id: number, name = `row ${id}`): Row => ({ id, name })
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

for (const { harness } of probes.filter((p) => p.cdc)) {
  describe(`${harness.kind}: change capture`, () => {
    const opened = useOpened(harness)
    const connector = () => opened().connector
    let writer: Connector
    const feeds: ChangeFeed[] = []
    const consumers = new Set<string>()

    beforeAll(async () => {
      writer = (await opened().another?.()) ?? opened().connector
    })

    afterEach(async () => {
      for (const feed of feeds.splice(0)) await feed.close()
      for (const consumer of consumers) await connector().dropChangeFeed!(consumer)
      consumers.clear()
    })

    /** Open a feed that the case's cleanup closes and whose consumer it drops. */
    async function open(entity: string, opts: ChangeFeedOptions): Promise<ChangeFeed> {
      consumers.add(opts.consumer)
      const feed = await connector().openChangeFeed!(entity, opts)
      feeds.push(feed)
      return feed
    }

    async function write(entity: string, upserts: Row[], deletes: KeyValues[] = [], keys = ['id']): Promise<void> {
      await writer.apply(entity, { upserts, deletes }, { keys })
    }

    async function snapshotOf(feed: ChangeFeed, fields: string[], keys = ['id'], batchSize = 1000): Promise<Row[]> {
      const rows: Row[] = []
      for await (const batch of feed.snapshot({ fields, keys, batchSize })) rows.push(...batch)
      return rows
    }

    const ids = (changes: SourceChange[]) => changes.map((c) => c.key[0])

    it('creates, updates and deletes arrive in commit order with the full record as scan reads it', async () => {
      const names = EVERY_TYPE_FIELDS.map((f) => f.name)
      await seed(connector(), 'cc_types', EVERY_TYPE_FIELDS, ['id'], [])
      const feed = await open('cc_types', { consumer: 'cc_types', keys: ['id'] })
      expect(await snapshotOf(feed, names)).toEqual([])
      const reader = new FeedReader(feed)

      await write('cc_types', EVERY_TYPE_ROWS)
      const inserted = (await scanAll(connector(), 'cc_types', { fields: names, keys: ['id'] })).rows
      const changed = { ...EVERY_TYPE_ROWS[1]!, label: 'changed', big: 7, blob: new Uint8Array([9, 0]), at: '2030-01-02T03:04:05.000006Z' }
      await write('cc_types', [changed])
      const updated = (await scanAll(connector(), 'cc_types', { fields: names, keys: ['id'] })).rows
      await write('cc_types', [], [[3]])

      const got = await reader.take(EVERY_TYPE_ROWS.length + 2)
      expect(got.map(shape)).toEqual([
        ...inserted.map((r) => ({ type: 'create', key: [r.id], record: r })),
        { type: 'update', key: [2], record: updated.find((r) => r.id === 2) },
        { type: 'delete', key: [3] },
      ])
      // The records are the fixture's values, not only what this connector's scan makes of them.
      expectRows(EVERY_TYPE_FIELDS, got.slice(0, EVERY_TYPE_ROWS.length).map((c) => c.record!), EVERY_TYPE_ROWS)
      expect(got[EVERY_TYPE_ROWS.length + 1]!.record).toBeUndefined()
      // A before-image, where the source gives one, is the row as it was.
      const update = got[EVERY_TYPE_ROWS.length]!
      const remove = got[EVERY_TYPE_ROWS.length + 1]!
      if (update.before !== undefined) expect(update.before).toEqual(inserted.find((r) => r.id === 2))
      if (remove.before !== undefined) expect(remove.before).toEqual(updated.find((r) => r.id === 3))
      for (const change of got) {
        expect(typeof change.position).toBe('string')
        if (change.committedAt !== undefined) expect(change.committedAt).toMatch(TIMESTAMP)
      }
      expect(new Set(got.map((c) => c.position)).size).toBe(got.length)
      await reader.expectNoMore()
    })

    it('arrays and enums arrive as scan reads them (PostgreSQL array text, MySQL SET/ENUM in the binlog)', async () => {
      const labels = ['sad', 'happy', 'ok']
      const fields = [
        field('id', 'integer', { nullable: false }),
        field('tags', 'array', { elementType: 'text' }),
        field('nums', 'array', { elementType: 'integer' }),
        field('mood', 'enum', { enumValues: labels }),
        field('moods', 'array', { elementType: 'enum', enumValues: labels }),
      ]
      const rows: Row[] = [
        { id: 1, tags: '["a","b,c","d\\"e","f\\\\g","{h}","NULL",null,""]', nums: '[1,-2,9007199254740993,null]', mood: 'happy', moods: '["sad","ok"]' },
        { id: 2, tags: '[]', nums: '[]', mood: 'ok', moods: '[]' },
        { id: 3, tags: null, nums: null, mood: null, moods: null },
      ]
      const names = fields.map((f) => f.name)
      await seed(connector(), 'cc_arrays', fields, ['id'], [])
      const feed = await open('cc_arrays', { consumer: 'cc_arrays', keys: ['id'] })
      expect(await snapshotOf(feed, names)).toEqual([])
      const reader = new FeedReader(feed)
      await write('cc_arrays', rows)
      const scanned = (await scanAll(connector(), 'cc_arrays', { fields: names, keys: ['id'] })).rows
      expect(scanned).toEqual(rows)
      const got = await reader.take(rows.length)
      expect(got.map((c) => c.record)).toEqual(scanned)
      await reader.expectNoMore()
    })

    it("a transaction's changes are contiguous and in order, also across batches", async () => {
      await seed(connector(), 'cc_tx', SMALL, ['id'], [])
      const feed = await open('cc_tx', { consumer: 'cc_tx', maxBatchSize: 2 })
      const reader = new FeedReader(feed)
      // Two transactions at once, through two connections: whichever commits first comes first, whole.
      await Promise.all([write('cc_tx', [row(1), row(2), row(3)]), connector().apply('cc_tx', { upserts: [row(11), row(12), row(13)], deletes: [] }, { keys: ['id'] })])
      const order = ids(await reader.take(6))
      expect([
        [1, 2, 3, 11, 12, 13],
        [11, 12, 13, 1, 2, 3],
      ]).toContainEqual(order)
      // One transaction of creates and an update, in the order it wrote them.
      await write('cc_tx', [row(5), row(1, 'one'), row(6)])
      expect((await reader.take(3)).map(shape)).toEqual([
        { type: 'create', key: [5], record: row(5) },
        { type: 'update', key: [1], record: row(1, 'one') },
        { type: 'create', key: [6], record: row(6) },
      ])
      expect(reader.batches.map((b) => b.changes.length).filter((n) => n > 2)).toEqual([])
      await reader.expectNoMore()
    })

    it("a feed reopened from a change's position delivers exactly the rest, including changes committed while it was closed", async () => {
      await seed(connector(), 'cc_resume', SMALL, ['id'], [])
      const first = await open('cc_resume', { consumer: 'cc_resume' })
      const reader = new FeedReader(first)
      for (let id = 1; id <= 5; id++) await write('cc_resume', [row(id)])
      const seen = await reader.take(3)
      await first.close()
      expect(await reader.end()).toBe(true)
      for (let id = 6; id <= 7; id++) await write('cc_resume', [row(id)])

      const again = await open('cc_resume', { consumer: 'cc_resume', from: seen[2]!.position })
      expect(again.start).toBe(seen[2]!.position)
      await expect(snapshotOf(again, ['name'])).rejects.toThrow()
      const rest = new FeedReader(again)
      expect((await rest.take(4)).map(shape)).toEqual([4, 5, 6, 7].map((id) => ({ type: 'create', key: [id], record: row(id) })))
      await rest.expectNoMore()
    })

    it("a feed reopened from a batch's position delivers exactly the rest", async () => {
      await seed(connector(), 'cc_batch', SMALL, ['id'], [])
      const first = await open('cc_batch', { consumer: 'cc_batch', maxBatchSize: 2 })
      const reader = new FeedReader(first)
      for (let id = 1; id <= 5; id++) await write('cc_batch', [row(id)])
      await reader.take(1)
      const batch = reader.batches.find((b) => b.changes.length > 0)!
      const handled = reader.received.indexOf(batch.changes[batch.changes.length - 1]!) + 1
      await first.close()

      const again = await open('cc_batch', { consumer: 'cc_batch', from: batch.position })
      const rest = new FeedReader(again)
      expect(ids(await rest.take(5 - handled))).toEqual([1, 2, 3, 4, 5].slice(handled))
      await rest.expectNoMore()
    })

    it('the snapshot is exactly as of start; changes committed while it is read come once, from changes()', async () => {
      const rows = Array.from({ length: 50 }, (_, i) => row(i + 1))
      await seed(connector(), 'cc_snap', SMALL, ['id'], rows)
      const before = (await scanAll(connector(), 'cc_snap', { fields: ['name'], keys: ['id'] })).rows
      const feed = await open('cc_snap', { consumer: 'cc_snap' })
      const snapshot: Row[] = []
      for await (const batch of feed.snapshot({ fields: ['name'], keys: ['id'], batchSize: 10 })) {
        if (snapshot.length === 0) {
          // Rows the snapshot has not reached yet: an update, a new row past the end, a delete.
          await write('cc_snap', [row(45, 'changed'), row(1000, 'new')])
          await write('cc_snap', [], [[48]])
        }
        snapshot.push(...batch)
      }
      expect(snapshot).toEqual(before)
      const reader = new FeedReader(feed)
      expect((await reader.take(3)).map(shape)).toEqual([
        { type: 'update', key: [45], record: row(45, 'changed') },
        { type: 'create', key: [1000], record: row(1000, 'new') },
        { type: 'delete', key: [48] },
      ])
      await reader.expectNoMore()
    })

    it('snapshot rows come in key order as scan reads them (text keys by UTF-8 bytes)', async () => {
      const fields = [field('code', 'text', { nullable: false, maxLength: 20 }), field('n', 'integer')]
      const codes = ['b', '😀', 'B', '', 'é', '\uFFFD', 'ab', 'a', 'Z', '中']
      await seed(connector(), 'cc_order', fields, ['code'], codes.map((code, n) => ({ code, n })))
      const feed = await open('cc_order', { consumer: 'cc_order', keys: ['code'] })
      const snapshot = await snapshotOf(feed, ['n'], ['code'], 3)
      const scanned = (await scanAll(connector(), 'cc_order', { fields: ['n'], keys: ['code'] })).rows
      expect(snapshot).toEqual(scanned)
      const byBytes = [...codes].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
      expect(snapshot.map((r) => r.code)).toEqual(byBytes)
    })

    it('an entity with a composite key: keys come in the given order', async () => {
      const fields = [field('region', 'text', { nullable: false, maxLength: 10 }), field('n', 'integer', { nullable: false }), field('qty', 'integer')]
      const keys = ['region', 'n']
      await seed(connector(), 'cc_composite', fields, keys, [{ region: 'eu', n: 1, qty: 1 }])
      const feed = await open('cc_composite', { consumer: 'cc_composite', keys })
      expect(await snapshotOf(feed, ['qty'], keys)).toEqual([{ region: 'eu', n: 1, qty: 1 }])
      const reader = new FeedReader(feed)
      await write('cc_composite', [{ region: 'us', n: 1, qty: 2 }], [], keys)
      await write('cc_composite', [{ region: 'eu', n: 1, qty: 3 }], [], keys)
      await write('cc_composite', [], [['us', 1]], keys)
      expect((await reader.take(3)).map(shape)).toEqual([
        { type: 'create', key: ['us', 1], record: { region: 'us', n: 1, qty: 2 } },
        { type: 'update', key: ['eu', 1], record: { region: 'eu', n: 1, qty: 3 } },
        { type: 'delete', key: ['us', 1] },
      ])
      await reader.expectNoMore()
    })

    it('ack, then a feed reopened from the acknowledged position continues after it', async () => {
      await seed(connector(), 'cc_ack', SMALL, ['id'], [])
      const first = await open('cc_ack', { consumer: 'cc_ack' })
      const reader = new FeedReader(first)
      for (let id = 1; id <= 3; id++) await write('cc_ack', [row(id)])
      const seen = await reader.take(3)
      await first.ack(seen[1]!.position)
      await first.close()

      const status = (await connector().listChangeFeeds?.())?.find((s) => s.consumer === 'cc_ack')
      if (status) {
        if (status.entity !== undefined) expect(status.entity).toMatch(/cc_ack$/)
        if (status.position !== undefined) expect(status.position).toBe(seen[1]!.position)
        if (status.pendingChanges !== undefined) expect(status.pendingChanges).toBe(1)
      }
      const again = await open('cc_ack', { consumer: 'cc_ack', from: seen[1]!.position })
      const rest = new FeedReader(again)
      expect((await rest.take(1)).map(shape)).toEqual([{ type: 'create', key: [3], record: row(3) }])
      await rest.expectNoMore()
    })

    it('after dropChangeFeed, reopening from an old position fails with POSITION_LOST', async () => {
      await seed(connector(), 'cc_drop', SMALL, ['id'], [])
      const first = await open('cc_drop', { consumer: 'cc_drop' })
      const reader = new FeedReader(first)
      await write('cc_drop', [row(1)])
      await write('cc_drop', [row(2)])
      const seen = await reader.take(2)
      await first.close()
      await connector().dropChangeFeed!('cc_drop')
      await connector().dropChangeFeed!('cc_drop') // idempotent
      expect((await connector().listChangeFeeds?.())?.map((s) => s.consumer) ?? []).not.toContain('cc_drop')
      if (harness.statelessFeeds) {
        // Nothing was kept, so nothing was dropped: the log still serves the old position.
        const again = await open('cc_drop', { consumer: 'cc_drop', from: seen[0]!.position })
        expect(ids(await new FeedReader(again).take(1))).toEqual([2])
        return
      }

      // Either opening or the first read may tell.
      const error = await rejection(
        (async () => {
          const again = await open('cc_drop', { consumer: 'cc_drop', from: seen[0]!.position })
          const got = await new FeedReader(again).take(1, 5000)
          throw new Error(`a dropped consumer resumed and got ${JSON.stringify(got.map((c) => c.type))}`)
        })().catch((e: unknown) => {
          if (e instanceof SynclineError) throw e
          throw new Error(`expected a SynclineError POSITION_LOST, got: ${String(e)}`)
        }),
      )
      expect(error).toBeInstanceOf(SynclineError)
      expect(error.code).toBe('POSITION_LOST')
    })

    it("two consumers on one entity each get every change; one's ack takes nothing from the other", async () => {
      await seed(connector(), 'cc_two', SMALL, ['id'], [])
      const a = await open('cc_two', { consumer: 'cc_two_a' })
      const b = await open('cc_two', { consumer: 'cc_two_b' })
      const readA = new FeedReader(a)
      const readB = new FeedReader(b)
      for (let id = 1; id <= 3; id++) await write('cc_two', [row(id)])
      const gotA = await readA.take(3)
      expect(ids(gotA)).toEqual([1, 2, 3])
      expect(ids(await readB.take(3))).toEqual([1, 2, 3])
      await a.ack(gotA[2]!.position)
      await a.close()
      await b.close()

      const againB = await open('cc_two', { consumer: 'cc_two_b', from: b.start })
      const restB = new FeedReader(againB)
      expect(ids(await restB.take(3))).toEqual([1, 2, 3])
      await restB.expectNoMore()
    })

    it('changes() ends promptly when the signal aborts or close() is called', async () => {
      await seed(connector(), 'cc_stop', SMALL, ['id'], [])
      const controller = new AbortController()
      const aborted = new FeedReader(await open('cc_stop', { consumer: 'cc_stop_a', signal: controller.signal }))
      const closed = new FeedReader(await open('cc_stop', { consumer: 'cc_stop_b' }))
      await aborted.expectNoMore(200) // waiting for changes now
      await closed.expectNoMore(200)

      let started = performance.now()
      controller.abort()
      expect(await aborted.end(2000)).toBe(true)
      expect(performance.now() - started).toBeLessThan(1000)

      started = performance.now()
      await closed.feed.close()
      expect(await closed.end(2000)).toBe(true)
      expect(performance.now() - started).toBeLessThan(1000)
    })

    it('waiting for changes does not spin the CPU, and a change arrives soon after its commit', async () => {
      await seed(connector(), 'cc_idle', SMALL, ['id'], [])
      const reader = new FeedReader(await open('cc_idle', { consumer: 'cc_idle' }))
      await reader.expectNoMore(200)
      const arrival = reader.take(1)
      const cpu = process.cpuUsage()
      await sleep(1000)
      const used = process.cpuUsage(cpu)
      const idleMs = (used.user + used.system) / 1000
      const started = performance.now()
      await write('cc_idle', [row(1)])
      expect(ids(await arrival)).toEqual([1])
      const latencyMs = performance.now() - started
      console.info(`${harness.kind}: ${idleMs.toFixed(1)} ms CPU over 1 s of waiting; change latency ${latencyMs.toFixed(1)} ms`)
      expect(idleMs).toBeLessThan(150)
      expect(latencyMs).toBeLessThan(1000)
    })
  })
}
