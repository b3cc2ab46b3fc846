/**
 * The behaviour every state store must have, run against SQLite and
 * PostgreSQL alike. Each test opens a fresh store (a new SQLite file, a new
 * PostgreSQL schema), so no test sees another's state.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import type { KeyValues, Value } from '../../src/values/canonical.js'
import { openSqliteStateStore } from '../../src/state/sqlite-state-store.js'
import { openPostgresStateStore } from '../../src/state/postgres-state-store.js'
import type { FeedPosition, RecordErrorEntry, RunLock, RunRecord, StateStore, SyncFacts } from '../../src/state/state-store.js'
import { createPgDatabase, hasPostgres, tempDir } from '../helpers/services.js'

const pgAvailable = await hasPostgres()

interface Backend {
  setup(): Promise<void>
  /** Open the store called `name`; the same name reopens the same state. */
  open(name: string): Promise<StateStore>
  teardown(): Promise<void>
}

const BACKENDS: Record<'sqlite' | 'postgres', Backend & { available: boolean }> = {
  sqlite: (() => {
    let dir: ReturnType<typeof tempDir> | undefined
    return {
      available: true,
      async setup() {
        dir = tempDir('syncline-state-')
      },
      async open(name: string) {
        return openSqliteStateStore(join(dir!.path, name, 'state.db'))
      },
      async teardown() {
        dir?.remove()
      },
    }
  })(),
  postgres: (() => {
    let db: Awaited<ReturnType<typeof createPgDatabase>> | undefined
    return {
      available: pgAvailable,
      async setup() {
        db = await createPgDatabase('syncline_state')
      },
      async open(name: string) {
        return openPostgresStateStore(db!.url, { schema: `state_${name}` })
      },
      async teardown() {
        await db?.drop()
      },
    }
  })(),
}

const T0 = Date.parse('2026-11-21T10:00:00.000Z')
/** An ISO time `seconds` after a fixed start, so order is under the test's control. */
function at(seconds: number): string {
  return new Date(T0 + seconds * 1000).toISOString()
}

function run(overrides: Partial<RunRecord> & Pick<RunRecord, 'runId' | 'syncId'>): RunRecord {
  return {
    mode: 'incremental',
    status: 'running',
    dryRun: false,
    startedAt: at(0),
    read: 0,
    created: 0,
    updated: 0,
    deleted: 0,
    unchanged: 0,
    failed: 0,
    conflicts: 0,
    ...overrides,
  }
}

function runLock(overrides: Partial<RunLock> & Pick<RunLock, 'syncId' | 'runId'>): RunLock {
  return { pid: 4242, host: 'worker-1', acquiredAt: at(0), heartbeatAt: at(0), ...overrides }
}

function recordError(overrides: Partial<RecordErrorEntry> & Pick<RecordErrorEntry, 'runId' | 'syncId'>): RecordErrorEntry {
  return { operation: 'create', recordId: '1', record: { id: 1 }, reason: 'value too long for type character varying(5)', at: at(0), ...overrides }
}

for (const kind of ['sqlite', 'postgres'] as const) {
  const backend = BACKENDS[kind]
  describe.skipIf(!backend.available)(`${kind} state store`, () => {
    const opened: StateStore[] = []
    let counter = 0
    /** A fresh, empty store for one test. */
    async function fresh(): Promise<{ store: StateStore; name: string }> {
      const name = `t${++counter}`
      const store = await backend.open(name)
      opened.push(store)
      return { store, name }
    }

    beforeAll(() => backend.setup())
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()))
    })
    afterAll(() => backend.teardown())

    describe('watermarks', () => {
      const cursors: [string, Value][] = [
        ['null', null],
        ['true', true],
        ['false', false],
        ['zero', 0],
        ['a negative float', -1234.5678],
        ['the largest double', Number.MAX_VALUE],
        ['the largest safe integer', Number.MAX_SAFE_INTEGER],
        ['bigint 2^63-1', 2n ** 63n - 1n],
        ['bigint -2^63', -(2n ** 63n)],
        ['bigint beyond 64 bits', 2n ** 100n + 1n],
        ['a timestamp', '2026-11-21T10:00:00.123456Z'],
        ['a decimal string', '-12345678901234567890.000000000001'],
        ['the empty string', ''],
        ['text with quotes, NUL and an astral character', 'say "hi"\u0000 \\ 𝄞'],
        ['text that looks like a tag', '{"$bigint":"1"}'],
        ['bytes with zero bytes', new Uint8Array([0, 0, 255, 0, 1, 0])],
        ['empty bytes', new Uint8Array([])],
      ]
      for (const [label, cursor] of cursors) {
        it(`round-trips ${label} exactly, with and without a key`, async () => {
          const { store } = await fresh()
          await store.setWatermark('plain', { cursor })
          await store.setWatermark('keyed', { cursor, key: [cursor] })
          const plain = await store.getWatermark('plain')
          expect(plain).toEqual({ cursor })
          expect(plain && 'key' in plain).toBe(false)
          expect(await store.getWatermark('keyed')).toEqual({ cursor, key: [cursor] })
          expect(typeof plain?.cursor).toBe(typeof cursor)
        })
      }

      it('round-trips composite keys of mixed kinds, keeping numbers and bigints apart', async () => {
        const { store } = await fresh()
        const key: KeyValues = [42, 42n, 'a', 2n ** 63n - 1n, new Uint8Array([0, 1, 0]), null, true, 0.5]
        await store.setWatermark('orders', { cursor: '2026-11-21T10:00:00.000000Z', key })
        const got = await store.getWatermark('orders')
        expect(got).toEqual({ cursor: '2026-11-21T10:00:00.000000Z', key })
        expect(typeof got?.key?.[0]).toBe('number')
        expect(typeof got?.key?.[1]).toBe('bigint')
        expect(got?.key?.[4]).toBeInstanceOf(Uint8Array)
      })

      it('overwrites the previous watermark (upsert) and clears it with undefined', async () => {
        const { store } = await fresh()
        expect(await store.getWatermark('orders')).toBeUndefined()
        await store.setWatermark('orders', { cursor: 1, key: [1] })
        await store.setWatermark('orders', { cursor: 2 })
        expect(await store.getWatermark('orders')).toEqual({ cursor: 2 })
        await store.setWatermark('customers', { cursor: 7 })

        await store.setWatermark('orders', undefined)
        expect(await store.getWatermark('orders')).toBeUndefined()
        expect(await store.getWatermark('customers')).toEqual({ cursor: 7 })
        await expect(store.setWatermark('never-set', undefined)).resolves.toBeUndefined()
      })

      it('keeps state when the store is closed and opened again', async () => {
        const { store, name } = await fresh()
        await store.setWatermark('orders', { cursor: 2n ** 63n - 1n, key: ['k'] })
        await store.startRun(run({ runId: 'r1', syncId: 'orders' }))
        await store.close()
        const again = await backend.open(name)
        opened.push(again)
        expect(await again.getWatermark('orders')).toEqual({ cursor: 2n ** 63n - 1n, key: ['k'] })
        expect((await again.listRuns()).map((r) => r.runId)).toEqual(['r1'])
      })
    })

    describe('runs', () => {
      it('records a run as running at start and with its outcome at finish', async () => {
        const { store } = await fresh()
        // Whatever status the caller passes, a started run is running.
        await store.startRun(run({ runId: 'r1', syncId: 'orders', status: 'succeeded', dryRun: true, mode: 'full' }))
        const [started] = await store.listRuns()
        expect(started).toEqual(run({ runId: 'r1', syncId: 'orders', status: 'running', dryRun: true, mode: 'full' }))
        expect(started && 'finishedAt' in started).toBe(false)
        expect(started && 'error' in started).toBe(false)

        const finished = run({
          runId: 'r1',
          syncId: 'orders',
          mode: 'full',
          dryRun: true,
          status: 'partial',
          finishedAt: at(12),
          durationMs: 12_034,
          read: 3_000_000_000,
          created: 5,
          updated: 6,
          deleted: 7,
          unchanged: 8,
          failed: 2,
          conflicts: 1,
          error: '2 records were rejected',
        })
        await store.finishRun(finished)
        expect(await store.listRuns()).toEqual([finished])
      })

      it('records a finished run whose start was never recorded', async () => {
        const { store } = await fresh()
        const failed = run({ runId: 'r9', syncId: 'orders', status: 'failed', finishedAt: at(1), durationMs: 1000, error: 'boom' })
        await store.finishRun(failed)
        expect(await store.listRuns()).toEqual([failed])
      })

      it('lists newest first, filtered by sync and limited', async () => {
        const { store } = await fresh()
        await store.startRun(run({ runId: 'b', syncId: 'orders', startedAt: at(20) }))
        await store.startRun(run({ runId: 'a', syncId: 'orders', startedAt: at(10) }))
        await store.startRun(run({ runId: 'c', syncId: 'customers', startedAt: at(30) }))
        // Same start time: the one recorded later is newer.
        await store.startRun(run({ runId: 'd', syncId: 'orders', startedAt: at(30) }))

        expect((await store.listRuns()).map((r) => r.runId)).toEqual(['d', 'c', 'b', 'a'])
        expect((await store.listRuns({ syncId: 'orders' })).map((r) => r.runId)).toEqual(['d', 'b', 'a'])
        expect((await store.listRuns({ syncId: 'orders', limit: 2 })).map((r) => r.runId)).toEqual(['d', 'b'])
        expect((await store.listRuns({ limit: 1 })).map((r) => r.runId)).toEqual(['d'])
        expect(await store.listRuns({ limit: 0 })).toEqual([])
        expect(await store.listRuns({ syncId: 'nothing' })).toEqual([])
      })

      it('keeps a run\u2019s notes, and none for a run without', async () => {
        const { store } = await fresh()
        const notes = ['The destination items holds 0 rows, but held 5 after the last run: compared in full to refill it.', 'say "hi" 𝄞']
        await store.startRun(run({ runId: 'r1', syncId: 'orders' }))
        expect((await store.listRuns())[0]).not.toHaveProperty('notes')
        await store.finishRun(run({ runId: 'r1', syncId: 'orders', status: 'succeeded', notes }))
        await store.finishRun(run({ runId: 'r2', syncId: 'orders', status: 'succeeded', startedAt: at(1), notes: [] }))
        const [second, first] = await store.listRuns()
        expect(first).toEqual(run({ runId: 'r1', syncId: 'orders', status: 'succeeded', notes }))
        expect(second).not.toHaveProperty('notes')
        expect((await store.listSyncStates())[0]?.lastRun).not.toHaveProperty('notes')
      })

      it('rejects a second start of the same run id', async () => {
        const { store } = await fresh()
        await store.startRun(run({ runId: 'r1', syncId: 'orders' }))
        await expect(store.startRun(run({ runId: 'r1', syncId: 'orders' }))).rejects.toThrow()
        expect(await store.listRuns()).toHaveLength(1)
      })
    })

    describe('runs still running', () => {
      it('lists only the runs in a given state', async () => {
        const { store } = await fresh()
        await store.startRun(run({ runId: 'a', syncId: 'orders', startedAt: at(1) }))
        await store.finishRun(run({ runId: 'a', syncId: 'orders', startedAt: at(1), status: 'succeeded', finishedAt: at(2) }))
        await store.startRun(run({ runId: 'b', syncId: 'orders', startedAt: at(3) }))
        await store.startRun(run({ runId: 'c', syncId: 'customers', startedAt: at(4) }))
        expect((await store.listRuns({ status: 'running' })).map((r) => r.runId)).toEqual(['c', 'b'])
        expect((await store.listRuns({ status: 'running', syncId: 'orders' })).map((r) => r.runId)).toEqual(['b'])
        expect((await store.listRuns({ status: 'succeeded', limit: 5 })).map((r) => r.runId)).toEqual(['a'])
      })

      it('writes an ending only over a run that is still running', async () => {
        const { store } = await fresh()
        await store.startRun(run({ runId: 'r1', syncId: 'orders' }))
        const interrupted = run({ runId: 'r1', syncId: 'orders', status: 'failed', finishedAt: at(5), durationMs: 5000, error: 'interrupted' })
        expect(await store.finishRunIfRunning(interrupted)).toBe(true)
        expect(await store.listRuns()).toEqual([interrupted])

        // A run that finished meanwhile keeps its own ending.
        const succeeded = run({ runId: 'r2', syncId: 'orders', status: 'succeeded', finishedAt: at(9), durationMs: 9000, created: 3 })
        await store.startRun(run({ runId: 'r2', syncId: 'orders' }))
        await store.finishRun(succeeded)
        expect(await store.finishRunIfRunning({ ...interrupted, runId: 'r2' })).toBe(false)
        expect((await store.listRuns({ syncId: 'orders' }))[0]).toEqual(succeeded)
        expect(await store.finishRunIfRunning({ ...interrupted, runId: 'never-started' })).toBe(false)
        expect(await store.listRuns()).toHaveLength(2)
      })
    })

    describe('run locks', () => {
      it('lets one run hold a sync at a time, other syncs being free', async () => {
        const { store } = await fresh()
        const first = runLock({ syncId: 'orders', runId: 'r1' })
        expect(await store.claimRunLock(first)).toBe(true)
        expect(await store.claimRunLock(runLock({ syncId: 'orders', runId: 'r2', pid: 7 }))).toBe(false)
        expect(await store.claimRunLock(runLock({ syncId: 'customers', runId: 'r3' }))).toBe(true)
        expect(await store.getRunLock('orders')).toEqual(first)
        expect(await store.getRunLock('nothing')).toBeUndefined()
        expect((await store.listRunLocks()).map((l) => [l.syncId, l.runId])).toEqual([
          ['customers', 'r3'],
          ['orders', 'r1'],
        ])
      })

      it('replaces a holder only while it is exactly the one that was judged stale', async () => {
        const { store } = await fresh()
        const stale = runLock({ syncId: 'orders', runId: 'dead' })
        await store.claimRunLock(stale)
        // The holder showed life after it was read: no takeover.
        await store.touchRunLock('orders', 'dead', at(30))
        expect(await store.claimRunLock(runLock({ syncId: 'orders', runId: 'late' }), stale)).toBe(false)
        const fresher = { ...stale, heartbeatAt: at(30) }
        const taker = runLock({ syncId: 'orders', runId: 'taker', pid: 99, host: 'worker-2', acquiredAt: at(40), heartbeatAt: at(40) })
        expect(await store.claimRunLock(taker, fresher)).toBe(true)
        // A second process taking over the same stale holder loses.
        expect(await store.claimRunLock(runLock({ syncId: 'orders', runId: 'second' }), fresher)).toBe(false)
        expect(await store.getRunLock('orders')).toEqual(taker)
        // The replaced run notices: its heartbeat no longer lands.
        expect(await store.touchRunLock('orders', 'dead', at(50))).toBe(false)
      })

      it('refreshes the heartbeat of its holder and is released only by it', async () => {
        const { store } = await fresh()
        await store.claimRunLock(runLock({ syncId: 'orders', runId: 'r1' }))
        expect(await store.touchRunLock('orders', 'r1', at(15))).toBe(true)
        expect((await store.getRunLock('orders'))?.heartbeatAt).toBe(at(15))
        await store.releaseRunLock('orders', 'someone-else')
        expect(await store.getRunLock('orders')).toBeDefined()
        await store.releaseRunLock('orders', 'r1')
        expect(await store.getRunLock('orders')).toBeUndefined()
        expect(await store.touchRunLock('orders', 'r1', at(30))).toBe(false)
        expect(await store.claimRunLock(runLock({ syncId: 'orders', runId: 'r2' }))).toBe(true)
      })

      it('gives exactly one of many concurrent claims the lock', async () => {
        const { store, name } = await fresh()
        const others = await Promise.all([1, 2, 3].map(() => backend.open(name)))
        opened.push(...others)
        const stores = [store, ...others]
        const wins = await Promise.all(stores.flatMap((s, i) => [0, 1].map((j) => s.claimRunLock(runLock({ syncId: 'orders', runId: `r${i}-${j}` })))))
        expect(wins.filter(Boolean)).toHaveLength(1)
      })

      it('is forgotten with its sync', async () => {
        const { store } = await fresh()
        await store.claimRunLock(runLock({ syncId: 'orders', runId: 'r1' }))
        await store.claimRunLock(runLock({ syncId: 'customers', runId: 'r2' }))
        await store.forgetSync('orders')
        expect((await store.listRunLocks()).map((l) => l.syncId)).toEqual(['customers'])
      })
    })

    describe('record errors', () => {
      it('stores thousands of rejected records at once and lists them newest first', async () => {
        const { store } = await fresh()
        const batch = Array.from({ length: 3000 }, (_, i) =>
          recordError({ runId: 'r1', syncId: 'orders', recordId: String(i), record: { id: i }, at: at(i % 10) }),
        )
        await store.addRecordErrors(batch)
        await store.addRecordErrors([])

        const all = await store.listRecordErrors()
        expect(all).toHaveLength(3000)
        expect(all[0]).toEqual(recordError({ runId: 'r1', syncId: 'orders', recordId: '2999', record: { id: 2999 }, at: at(9) }))
        expect(all.every((e, i) => i === 0 || e.at <= all[i - 1]!.at)).toBe(true)
        expect((await store.listRecordErrors({ limit: 3 })).map((e) => e.recordId)).toEqual(['2999', '2989', '2979'])
      })

      it('keeps a rejected record readable: bigints as digits, bytes as \\x hex', async () => {
        const { store } = await fresh()
        await store.addRecordErrors([
          recordError({
            runId: 'r1',
            syncId: 'orders',
            operation: 'update',
            recordId: '["9223372036854775807","a"]',
            record: { id: 2n ** 63n - 1n, code: 'a', payload: new Uint8Array([0, 171, 0]), note: null, price: '12.50' },
            reason: 'value too long',
          }),
        ])
        const [entry] = await store.listRecordErrors()
        expect(entry).toEqual({
          runId: 'r1',
          syncId: 'orders',
          operation: 'update',
          recordId: '["9223372036854775807","a"]',
          record: { id: '9223372036854775807', code: 'a', payload: '\\x00ab00', note: null, price: '12.50' },
          reason: 'value too long',
          at: at(0),
        })
      })

      it('filters by sync and by run', async () => {
        const { store } = await fresh()
        await store.addRecordErrors([
          recordError({ runId: 'r1', syncId: 'orders', recordId: '1', at: at(1) }),
          recordError({ runId: 'r2', syncId: 'orders', recordId: '2', at: at(2) }),
          recordError({ runId: 'r3', syncId: 'customers', recordId: '3', at: at(3) }),
        ])
        expect((await store.listRecordErrors({ syncId: 'orders' })).map((e) => e.recordId)).toEqual(['2', '1'])
        expect((await store.listRecordErrors({ runId: 'r1' })).map((e) => e.recordId)).toEqual(['1'])
        expect(await store.listRecordErrors({ syncId: 'customers', runId: 'r1' })).toEqual([])
        expect(await store.countRecordErrors({ syncId: 'orders' })).toBe(2)
        expect(await store.countRecordErrors({ runId: 'r3' })).toBe(1)
        expect(await store.countRecordErrors({ syncId: 'customers', runId: 'r1' })).toBe(0)
        expect(await store.countRecordErrors()).toBe(3)
      })

      it('keeps a rejected record bounded: long values as an excerpt with their size, a long reason cut (issue 6 #6)', async () => {
        const { store } = await fresh()
        const wide = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`f${i}`, i]))
        await store.addRecordErrors([
          recordError({
            runId: 'r1',
            syncId: 'orders',
            recordId: '1',
            record: { id: 1, body: 'é'.repeat(300_000), raw: new Uint8Array(1_000_000).fill(255), tags: Array.from({ length: 1000 }, () => 'tag'), ...wide },
            reason: `value too long: ${'q'.repeat(1_000_000)}`,
          }),
        ])
        const [entry] = await store.listRecordErrors()
        expect(entry!.record.id).toBe(1)
        expect(entry!.record.body).toEqual({ excerpt: 'é'.repeat(200), bytes: 600_000 })
        expect(entry!.record.raw).toEqual({ excerpt: `\\x${'ff'.repeat(100)}`, bytes: 1_000_000 })
        expect(entry!.record.tags).toEqual({ excerpt: expect.stringMatching(/^\["tag","tag",/), bytes: 6001 })
        expect(Object.keys(entry!.record)).toHaveLength(51)
        expect(entry!.record['…']).toBe('34 more fields not stored')
        expect(entry!.reason.length).toBeLessThan(2100)
        expect(entry!.reason).toMatch(/^value too long: q+… \(\d+ more characters\)$/)
        expect(JSON.stringify(entry).length).toBeLessThan(8 * 1024)
      })

      it('writes a batch whole or not at all', async () => {
        const { store } = await fresh()
        const bad = { ...recordError({ runId: 'r1', syncId: 'orders', recordId: '2' }), reason: null as unknown as string }
        await expect(store.addRecordErrors([recordError({ runId: 'r1', syncId: 'orders' }), bad])).rejects.toThrow()
        expect(await store.listRecordErrors()).toEqual([])
      })
    })

    describe('sync facts', () => {
      const facts = (overrides: Partial<SyncFacts> = {}): SyncFacts => ({
        source: { connection: 'shop', entity: 'items' },
        destination: { connection: 'warehouse', entity: 'public.items' },
        destinationRows: 3_000_000_000,
        mappedFields: [
          { source: 'id', destination: 'id' },
          { source: 'Full Name', destination: 'name' },
        ],
        sourceFields: ['id', 'Full Name', 'updated_at'],
        updatedAt: at(0),
        ...overrides,
      })

      it('round-trips what the last run delivered, replaces it, and keeps it across a reopen', async () => {
        const { store, name } = await fresh()
        expect(await store.getSyncFacts('items')).toBeUndefined()
        await store.setSyncFacts('items', facts())
        expect(await store.getSyncFacts('items')).toEqual(facts())

        const { destinationRows: _, ...uncounted } = facts({ mappedFields: [], sourceFields: [], updatedAt: at(5) })
        await store.setSyncFacts('items', uncounted)
        expect(await store.getSyncFacts('items')).toEqual(uncounted)
        await store.setSyncFacts('other', facts({ destinationRows: 0 }))
        // Whether syncline created the destination decides the schema drift default.
        await store.setSyncFacts('created', facts({ destinationCreated: true }))

        await store.close()
        const reopened = await backend.open(name)
        opened.push(reopened)
        expect(await reopened.getSyncFacts('items')).toEqual(uncounted)
        expect(await reopened.getSyncFacts('other')).toEqual(facts({ destinationRows: 0 }))
        expect(await reopened.getSyncFacts('created')).toEqual(facts({ destinationCreated: true }))
      })

      it('are forgotten with their sync only', async () => {
        const { store } = await fresh()
        await store.setSyncFacts('orders', facts())
        await store.setSyncFacts('customers', facts())
        await store.forgetSync('orders')
        expect(await store.getSyncFacts('orders')).toBeUndefined()
        expect(await store.getSyncFacts('customers')).toEqual(facts())
      })
    })

    describe('feed positions', () => {
      const position = (overrides: Partial<FeedPosition> = {}): FeedPosition => ({
        syncId: 'orders',
        consumer: 'sync_orders_1a2b3c',
        connection: 'shop',
        entity: 'orders',
        position: '0/16B3748',
        committedAt: '2026-11-21T10:00:00.123456Z',
        updatedAt: at(0),
        ...overrides,
      })

      it('round-trips, moves on, keeps the last commit time over an empty batch, and survives a reopen', async () => {
        const { store, name } = await fresh()
        expect(await store.getFeedPosition('orders')).toBeUndefined()
        await store.setFeedPosition(position())
        expect(await store.getFeedPosition('orders')).toEqual(position())
        // An empty batch only moves the position: the last change's commit time stays.
        const { committedAt: _, ...moved } = position({ position: '0/16B3790', updatedAt: at(1) })
        await store.setFeedPosition(moved)
        expect(await store.getFeedPosition('orders')).toEqual(position({ position: '0/16B3790', updatedAt: at(1) }))
        await store.setFeedPosition(position({ syncId: 'customers', consumer: 'sync_customers_ffffff' }))

        await store.close()
        const reopened = await backend.open(name)
        opened.push(reopened)
        expect((await reopened.listFeedPositions()).map((p) => [p.syncId, p.position])).toEqual([
          ['customers', '0/16B3748'],
          ['orders', '0/16B3790'],
        ])
      })

      it('are forgotten with their sync only', async () => {
        const { store } = await fresh()
        await store.setFeedPosition(position())
        await store.setFeedPosition(position({ syncId: 'customers' }))
        await store.forgetSync('orders')
        expect(await store.getFeedPosition('orders')).toBeUndefined()
        expect(await store.getFeedPosition('customers')).toEqual(position({ syncId: 'customers' }))
      })
    })

    describe('watch consumers', () => {
      it('records a consumer in use, released, and in use again when resumed, across a reopen', async () => {
        const { store, name } = await fresh()
        expect(await store.getWatchConsumer('shop', 'watch_0a1b2c3d')).toBeUndefined()
        await store.claimWatchConsumer({ connection: 'shop', consumer: 'watch_0a1b2c3d', entity: 'items' })
        expect(await store.getWatchConsumer('shop', 'watch_0a1b2c3d')).toEqual({ connection: 'shop', consumer: 'watch_0a1b2c3d', entity: 'items' })
        await store.releaseWatchConsumer('shop', 'watch_0a1b2c3d', at(10))
        expect(await store.getWatchConsumer('shop', 'watch_0a1b2c3d')).toEqual({ connection: 'shop', consumer: 'watch_0a1b2c3d', entity: 'items', releasedAt: at(10) })

        await store.close()
        const reopened = await backend.open(name)
        opened.push(reopened)
        expect((await reopened.getWatchConsumer('shop', 'watch_0a1b2c3d'))?.releasedAt).toBe(at(10))
        await reopened.claimWatchConsumer({ connection: 'shop', consumer: 'watch_0a1b2c3d', entity: 'items' })
        expect(await reopened.getWatchConsumer('shop', 'watch_0a1b2c3d')).toEqual({ connection: 'shop', consumer: 'watch_0a1b2c3d', entity: 'items' })
      })

      it('keeps the position acknowledged after the last delivered event (schema v9), replaced by the next, through a release, a claim and a reopen', async () => {
        const { store, name } = await fresh()
        const consumer = { connection: 'shop', consumer: 'watch_0a1b2c3d', entity: 'items' }
        await store.claimWatchConsumer(consumer)
        await store.setWatchResume('shop', 'watch_0a1b2c3d', { delivered: '0/16B3748', acknowledged: '0/16B9000' })
        expect(await store.getWatchConsumer('shop', 'watch_0a1b2c3d')).toEqual({ ...consumer, resume: { delivered: '0/16B3748', acknowledged: '0/16B9000' } })
        await store.setWatchResume('shop', 'watch_0a1b2c3d', { delivered: '0/16C0000:2', acknowledged: '0/16C1000', filters: '0123456789abcdef' })
        await store.releaseWatchConsumer('shop', 'watch_0a1b2c3d', at(5))
        // Another connection's consumer of the same name is untouched.
        await store.claimWatchConsumer({ ...consumer, connection: 'crm' })
        await store.setWatchResume('crm', 'watch_0a1b2c3d', { delivered: '7', acknowledged: '9' })

        await store.close()
        const reopened = await backend.open(name)
        opened.push(reopened)
        await reopened.claimWatchConsumer(consumer)
        expect(await reopened.getWatchConsumer('shop', 'watch_0a1b2c3d')).toEqual({
          ...consumer,
          resume: { delivered: '0/16C0000:2', acknowledged: '0/16C1000', filters: '0123456789abcdef' },
        })
        expect((await reopened.getWatchConsumer('crm', 'watch_0a1b2c3d'))?.resume).toEqual({ delivered: '7', acknowledged: '9' })
        // Writing for a consumer the store does not know creates nothing.
        await reopened.setWatchResume('shop', 'watch_ffffffff', { delivered: '1', acknowledged: '2' })
        expect(await reopened.getWatchConsumer('shop', 'watch_ffffffff')).toBeUndefined()
      })

      it('lists per connection in name order, and forgets one consumer only', async () => {
        const { store } = await fresh()
        await store.claimWatchConsumer({ connection: 'shop', consumer: 'watch_ffffffff', entity: 'items' })
        await store.claimWatchConsumer({ connection: 'shop', consumer: 'watch_00000000', entity: 'orders' })
        await store.claimWatchConsumer({ connection: 'crm', consumer: 'watch_00000000', entity: 'people' })
        await store.releaseWatchConsumer('shop', 'watch_ffffffff', at(1))
        expect((await store.listWatchConsumers('shop')).map((c) => [c.consumer, c.entity, c.releasedAt])).toEqual([
          ['watch_00000000', 'orders', undefined],
          ['watch_ffffffff', 'items', at(1)],
        ])
        expect((await store.listWatchConsumers()).map((c) => `${c.connection}/${c.consumer}`)).toEqual(['crm/watch_00000000', 'shop/watch_00000000', 'shop/watch_ffffffff'])
        await store.forgetWatchConsumer('shop', 'watch_00000000')
        await store.forgetWatchConsumer('shop', 'never_existed')
        expect((await store.listWatchConsumers()).map((c) => `${c.connection}/${c.consumer}`)).toEqual(['crm/watch_00000000', 'shop/watch_ffffffff'])
      })
    })

    describe('sync states', () => {
      it('lists every sync with a watermark or a run, with its last run', async () => {
        const { store } = await fresh()
        expect(await store.listSyncStates()).toEqual([])
        await store.setWatermark('watermark-only', { cursor: 2n ** 63n - 1n, key: [new Uint8Array([0])] })
        await store.startRun(run({ runId: 'old', syncId: 'both', startedAt: at(1) }))
        await store.finishRun(run({ runId: 'old', syncId: 'both', startedAt: at(1), status: 'succeeded', finishedAt: at(2), durationMs: 1000 }))
        await store.startRun(run({ runId: 'new', syncId: 'both', startedAt: at(5) }))
        await store.setWatermark('both', { cursor: '2026-11-21T10:00:00.000000Z' })
        await store.startRun(run({ runId: 'only', syncId: 'run-only', startedAt: at(3), mode: 'full' }))

        expect(await store.listSyncStates()).toEqual([
          { syncId: 'both', watermark: { cursor: '2026-11-21T10:00:00.000000Z' }, lastRun: run({ runId: 'new', syncId: 'both', startedAt: at(5) }) },
          { syncId: 'run-only', lastRun: run({ runId: 'only', syncId: 'run-only', startedAt: at(3), mode: 'full' }) },
          { syncId: 'watermark-only', watermark: { cursor: 2n ** 63n - 1n, key: [new Uint8Array([0])] } },
        ])
      })

      it('forgets everything about one sync and nothing about the others', async () => {
        const { store } = await fresh()
        for (const syncId of ['orders', 'customers']) {
          await store.setWatermark(syncId, { cursor: 1 })
          await store.startRun(run({ runId: `${syncId}-r1`, syncId }))
          await store.addRecordErrors([recordError({ runId: `${syncId}-r1`, syncId })])
        }
        await store.forgetSync('orders')
        await store.forgetSync('never-existed')

        expect(await store.getWatermark('orders')).toBeUndefined()
        expect(await store.listRuns({ syncId: 'orders' })).toEqual([])
        expect(await store.listRecordErrors({ syncId: 'orders' })).toEqual([])
        expect((await store.listSyncStates()).map((s) => s.syncId)).toEqual(['customers'])
        expect(await store.getWatermark('customers')).toEqual({ cursor: 1 })
        expect(await store.listRecordErrors({ syncId: 'customers' })).toHaveLength(1)
      })
    })

    describe('closing', () => {
      it('refuses work after close with a message naming the store, and closes twice safely', async () => {
        const { store } = await fresh()
        await store.close()
        await store.close()
        await expect(store.getWatermark('orders')).rejects.toThrow(/closed; open it again/)
        await expect(store.setWatermark('orders', { cursor: 1 })).rejects.toMatchObject({ code: 'INTERNAL' })
      })
    })

    it('rejects a value that is not canonical instead of storing something else', async () => {
      const { store } = await fresh()
      await expect(store.setWatermark('orders', { cursor: new Date() as unknown as Value })).rejects.toThrow(/Date object/)
      expect(await store.getWatermark('orders')).toBeUndefined()
    })
  })
}
