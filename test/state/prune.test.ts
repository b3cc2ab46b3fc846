/**
 * Run history retention (`pruneHistory`), against SQLite and PostgreSQL alike:
 * a run goes only when it is both older than the age bound and beyond the
 * newest N of its sync; never a run still going, never a sync's newest run;
 * its record errors go with it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { openSqliteStateStore } from '../../src/state/sqlite-state-store.js'
import { openPostgresStateStore } from '../../src/state/postgres-state-store.js'
import type { RecordErrorEntry, RunRecord, RunStatus, StateStore } from '../../src/state/state-store.js'
import { createPgDatabase, hasPostgres, tempDir } from '../helpers/services.js'

const pgAvailable = await hasPostgres()

const NOW = Date.parse('2026-12-01T00:00:00.000Z')
/** The ISO time `n` days before NOW (fractions allowed). */
function daysAgo(n: number): string {
  return new Date(NOW - n * 86_400_000).toISOString()
}

interface Backend {
  available: boolean
  setup(): Promise<void>
  open(name: string): Promise<StateStore>
  teardown(): Promise<void>
}

function sqliteBackend(): Backend {
  let dir: ReturnType<typeof tempDir> | undefined
  return {
    available: true,
    setup: async () => void (dir = tempDir('syncline-prune-')),
    open: async (name) => openSqliteStateStore(join(dir!.path, name, 'state.db')),
    teardown: async () => dir?.remove(),
  }
}

function postgresBackend(): Backend {
  let db: Awaited<ReturnType<typeof createPgDatabase>> | undefined
  return {
    available: pgAvailable,
    setup: async () => void (db = await createPgDatabase('syncline_prune')),
    open: async (name) => openPostgresStateStore(db!.url, { schema: `prune_${name}` }),
    teardown: async () => db?.drop(),
  }
}

/** Record one finished (or running) run of `syncId`, started `days` ago. */
async function addRun(store: StateStore, syncId: string, runId: string, days: number, status: RunStatus = 'succeeded'): Promise<void> {
  const run: RunRecord = {
    runId,
    syncId,
    mode: 'full',
    status,
    dryRun: false,
    startedAt: daysAgo(days),
    read: 1,
    created: 1,
    updated: 0,
    deleted: 0,
    unchanged: 0,
    failed: 0,
    conflicts: 0,
  }
  await store.startRun(run)
  if (status !== 'running') await store.finishRun({ ...run, finishedAt: daysAgo(days - 0.001), durationMs: 86_400 })
}

function recordError(syncId: string, runId: string, recordId: string): RecordErrorEntry {
  return { syncId, runId, operation: 'create', recordId, record: { id: recordId }, reason: 'value too long for type character varying(5)', at: daysAgo(0) }
}

/** The run ids of a sync still in history, newest first. */
async function runIds(store: StateStore, syncId: string): Promise<string[]> {
  return (await store.listRuns({ syncId })).map((r) => r.runId)
}

for (const [kind, backend] of [
  ['sqlite', sqliteBackend()],
  ['postgres', postgresBackend()],
] as const) {
  describe.skipIf(!backend.available)(`${kind}: pruneHistory`, () => {
    const opened: StateStore[] = []
    let counter = 0
    async function fresh(): Promise<StateStore> {
      const store = await backend.open(`t${++counter}`)
      opened.push(store)
      return store
    }

    beforeAll(() => backend.setup())
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()))
    })
    afterAll(() => backend.teardown())

    it('by age only: with keepRuns 1, every run but the newest that is older than the bound goes', async () => {
      const store = await fresh()
      for (const [id, days] of [['a1', 40], ['a2', 35], ['a3', 20], ['a4', 1]] as const) await addRun(store, 'orders', id, days)
      expect(await store.pruneHistory({ olderThan: daysAgo(30), keepRuns: 1 })).toEqual({ runs: 2, recordErrors: 0 })
      expect(await runIds(store, 'orders')).toEqual(['a4', 'a3'])
    })

    it('by count only: with every run older than the bound, each sync keeps its newest keepRuns', async () => {
      const store = await fresh()
      for (let i = 1; i <= 5; i++) await addRun(store, 'orders', `o${i}`, 10 - i)
      for (let i = 1; i <= 2; i++) await addRun(store, 'customers', `c${i}`, 10 - i)
      // The future: every run is "old", so only the count keeps any.
      const result = await store.pruneHistory({ olderThan: new Date(NOW + 86_400_000).toISOString(), keepRuns: 3 })
      expect(result).toEqual({ runs: 2, recordErrors: 0 })
      expect(await runIds(store, 'orders')).toEqual(['o5', 'o4', 'o3'])
      expect(await runIds(store, 'customers')).toEqual(['c2', 'c1'])
    })

    it('with both bounds, a run goes only when it is old AND beyond the newest N (whichever keeps more wins)', async () => {
      const store = await fresh()
      // orders: beyond the newest 2 are days 50, 45, 40 and 10; of those only 50, 45, 40 are older than 30 days.
      for (const [id, days] of [['o50', 50], ['o45', 45], ['o40', 40], ['o10', 10], ['o5', 5], ['o1', 1]] as const) await addRun(store, 'orders', id, days)
      // customers: both runs old, but within its newest 2.
      await addRun(store, 'customers', 'c60', 60)
      await addRun(store, 'customers', 'c50', 50)
      expect(await store.pruneHistory({ olderThan: daysAgo(30), keepRuns: 2 })).toEqual({ runs: 3, recordErrors: 0 })
      expect(await runIds(store, 'orders')).toEqual(['o1', 'o5', 'o10'])
      expect(await runIds(store, 'customers')).toEqual(['c50', 'c60'])
    })

    it('never removes a run still running, nor the last run of a sync (keepRuns 0 counts as 1)', async () => {
      const store = await fresh()
      await addRun(store, 'orders', 'stuck', 100, 'running')
      await addRun(store, 'orders', 'o90', 90)
      await addRun(store, 'orders', 'o80', 80)
      await addRun(store, 'lonely', 'l365', 365, 'failed')
      const result = await store.pruneHistory({ olderThan: daysAgo(0), keepRuns: 0 })
      expect(result).toEqual({ runs: 1, recordErrors: 0 })
      expect(await runIds(store, 'orders')).toEqual(['o80', 'stuck'])
      expect(await runIds(store, 'lonely')).toEqual(['l365'])
      // The status view still shows each sync's last run.
      expect((await store.listSyncStates()).map((s) => [s.syncId, s.lastRun?.runId])).toEqual([
        ['lonely', 'l365'],
        ['orders', 'o80'],
      ])
    })

    it('removes the record errors of the runs it removes, and only those', async () => {
      const store = await fresh()
      await addRun(store, 'orders', 'old', 40, 'partial')
      await addRun(store, 'orders', 'new', 1, 'partial')
      await store.addRecordErrors([recordError('orders', 'old', '1'), recordError('orders', 'old', '2'), recordError('orders', 'new', '3')])
      expect(await store.pruneHistory({ olderThan: daysAgo(30), keepRuns: 1 })).toEqual({ runs: 1, recordErrors: 2 })
      expect((await store.listRecordErrors({ syncId: 'orders' })).map((e) => [e.runId, e.recordId])).toEqual([['new', '3']])
      expect(await store.countRecordErrors()).toBe(1)
    })

    it('in a dry run counts the same runs and errors and removes nothing', async () => {
      const store = await fresh()
      await addRun(store, 'orders', 'old', 40, 'partial')
      await addRun(store, 'orders', 'older', 41, 'partial')
      await addRun(store, 'orders', 'new', 1)
      await store.addRecordErrors([recordError('orders', 'old', '1')])
      const bounds = { olderThan: daysAgo(30), keepRuns: 1 }
      expect(await store.pruneHistory({ ...bounds, dryRun: true })).toEqual({ runs: 2, recordErrors: 1 })
      expect(await runIds(store, 'orders')).toEqual(['new', 'old', 'older'])
      expect(await store.countRecordErrors()).toBe(1)
      expect(await store.pruneHistory(bounds)).toEqual({ runs: 2, recordErrors: 1 })
      expect(await store.pruneHistory(bounds)).toEqual({ runs: 0, recordErrors: 0 })
    })

    it('ranks runs that started at the same instant as history lists them (the later recorded is newer)', async () => {
      const store = await fresh()
      for (const id of ['t1', 't2', 't3', 't4']) await addRun(store, 'orders', id, 40)
      expect(await store.pruneHistory({ olderThan: daysAgo(30), keepRuns: 2 })).toEqual({ runs: 2, recordErrors: 0 })
      expect(await runIds(store, 'orders')).toEqual(['t4', 't3'])
    })

    it('refuses an olderThan that is not a time', async () => {
      const store = await fresh()
      await expect(store.pruneHistory({ olderThan: 'last tuesday', keepRuns: 10 })).rejects.toThrow(/olderThan as an ISO time/)
    })
  })
}
