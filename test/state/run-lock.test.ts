/**
 * The run lock against real processes, in both state stores: a holder that
 * lives (in another process, on another machine with a fresh heartbeat, in
 * this process) keeps its lock; a holder that is gone (its process ended,
 * its heartbeat older than the TTL, a pid reused by a restarted process)
 * loses it to the next run, which marks the dead run failed (interrupted).
 * Processes racing for one lock: exactly one wins.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { markInterruptedRuns } from '../../src/state/interrupted-runs.js'
import { openPostgresStateStore } from '../../src/state/postgres-state-store.js'
import { acquireRunLock, RUN_LOCK_TTL_MS, type HeldRunLock } from '../../src/state/run-lock.js'
import { openSqliteStateStore } from '../../src/state/sqlite-state-store.js'
import type { RunLock, RunRecord, StateStore } from '../../src/state/state-store.js'
import { BUILD_TIMEOUT_MS, ensureBuilt, ROOT } from '../cli/build.js'
import { createPgDatabase, hasPostgres, tempDir } from '../helpers/services.js'

const pgAvailable = await hasPostgres()
const HOST = hostname()

/** Where one test's store lives, as a child process opens it too. */
type Location = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string; schema: string }

function record(syncId: string, runId: string = randomUUID()): RunRecord {
  return { runId, syncId, mode: 'full', status: 'running', dryRun: false, startedAt: new Date().toISOString(), read: 0, created: 0, updated: 0, deleted: 0, unchanged: 0, failed: 0, conflicts: 0 }
}

function lockOf(run: RunRecord, holder: Partial<RunLock>): RunLock {
  const now = new Date().toISOString()
  return { syncId: run.syncId, runId: run.runId, pid: process.pid, host: HOST, acquiredAt: now, heartbeatAt: now, ...holder }
}

/** A run another process holds: its lock and its row in history, as that process would have left them. */
async function heldElsewhere(state: StateStore, syncId: string, holder: Partial<RunLock>, startedAt?: string): Promise<RunRecord> {
  const run = { ...record(syncId), ...(startedAt ? { startedAt } : {}) }
  expect(await state.claimRunLock(lockOf(run, holder))).toBe(true)
  await state.startRun(run)
  return run
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe.skipIf(kind === 'postgres' && !pgAvailable)(`run lock, ${kind} state`, () => {
    let dir: ReturnType<typeof tempDir>
    let db: Awaited<ReturnType<typeof createPgDatabase>> | undefined
    let counter = 0
    const opened: StateStore[] = []
    const children: ChildProcess[] = []
    const held: HeldRunLock[] = []

    beforeAll(async () => {
      dir = tempDir('syncline-run-lock-')
      if (kind === 'postgres') db = await createPgDatabase('syncline_runlock')
    })
    afterEach(async () => {
      await Promise.all(held.splice(0).map((h) => h.release().catch(() => undefined)))
      for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await Promise.all(opened.splice(0).map((s) => s.close()))
    })
    afterAll(async () => {
      dir?.remove()
      await db?.drop()
    })

    function freshLocation(): Location {
      const name = `t${++counter}`
      return kind === 'sqlite' ? { kind, path: join(dir.path, name, 'state.db') } : { kind, url: db!.url, schema: `lock_${name}` }
    }
    async function open(location: Location): Promise<StateStore> {
      const store = location.kind === 'sqlite' ? openSqliteStateStore(location.path) : await openPostgresStateStore(location.url, { schema: location.schema })
      opened.push(store)
      return store
    }
    async function acquire(state: StateStore, run: RunRecord, opts?: { heartbeatMs?: number }): Promise<HeldRunLock> {
      const lock = await acquireRunLock(state, run, opts)
      held.push(lock)
      return lock
    }
    /** A process that only lives, for a pid that exists. */
    function liveProcess(): ChildProcess {
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
      children.push(child)
      return child
    }
    async function kill(child: ChildProcess): Promise<void> {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }

    it('leaves a lock whose process lives on this machine, and takes it over once that process has ended', async () => {
      const state = await open(freshLocation())
      const holder = liveProcess()
      const alive = await heldElsewhere(state, 'orders', { pid: holder.pid! })

      const refused = await acquireRunLock(state, record('orders')).catch((e: unknown) => e)
      expect(refused).toMatchObject({ code: 'LOCKED', failure: 'transient' })
      expect((refused as Error).message).toMatch(new RegExp(`^Sync 'orders' is already running \\(pid ${holder.pid} on host ${HOST}, since \\d{4}-`))
      expect((refused as Error).message).toContain(`kill ${holder.pid}`)
      expect(await markInterruptedRuns(state)).toEqual([])
      expect((await state.listRuns())[0]).toMatchObject({ runId: alive.runId, status: 'running' })

      await kill(holder)
      const next = record('orders')
      const lock = await acquire(state, next)
      expect(lock.lock).toMatchObject({ runId: next.runId, pid: process.pid, host: HOST })
      expect(await state.getRunLock('orders')).toMatchObject({ runId: next.runId })
      const [dead] = await state.listRuns({ syncId: 'orders' })
      expect(dead).toMatchObject({ runId: alive.runId, status: 'failed' })
      expect(dead!.error).toMatch(new RegExp(`^interrupted: the process \\(pid ${holder.pid} on host ${HOST}\\) ended without finishing`))
      expect(dead!.finishedAt).toBeDefined()

      await lock.release()
      expect(await state.getRunLock('orders')).toBeUndefined()
    })

    it('marks a run whose process ended when the state is looked at, and drops its lock', async () => {
      const state = await open(freshLocation())
      const holder = liveProcess()
      const run = await heldElsewhere(state, 'orders', { pid: holder.pid! })
      const other = await heldElsewhere(state, 'customers', { pid: liveProcess().pid! })
      await kill(holder)

      const marked = await markInterruptedRuns(state)
      expect(marked.map((r) => r.runId)).toEqual([run.runId])
      expect((await state.listRuns({ status: 'running' })).map((r) => r.runId)).toEqual([other.runId])
      expect((await state.listRunLocks()).map((l) => l.syncId)).toEqual(['customers'])
      // Looking again changes nothing.
      expect(await markInterruptedRuns(state)).toEqual([])
    })

    it('keeps another machine\u2019s lock while its heartbeat is fresh, and takes it over once it is older than the TTL', async () => {
      const state = await open(freshLocation())
      const run = await heldElsewhere(state, 'orders', { host: 'worker-elsewhere', pid: 1 }, new Date(Date.now() - 600_000).toISOString())

      const refused = await acquireRunLock(state, record('orders')).catch((e: unknown) => e)
      expect(refused).toMatchObject({ code: 'LOCKED' })
      expect((refused as Error).message).toContain('pid 1 on host worker-elsewhere')
      expect((refused as Error).message).toContain(`older than ${RUN_LOCK_TTL_MS / 1000} s`)
      expect(await markInterruptedRuns(state)).toEqual([])

      const lastBeat = new Date(Date.now() - RUN_LOCK_TTL_MS - 5000).toISOString()
      expect(await state.touchRunLock('orders', run.runId, lastBeat)).toBe(true)
      const next = record('orders')
      await acquire(state, next)
      const dead = (await state.listRuns({ syncId: 'orders' })).find((r) => r.runId === run.runId)
      // Ended when it last showed life.
      expect(dead).toMatchObject({ status: 'failed', finishedAt: lastBeat, durationMs: Date.parse(lastBeat) - Date.parse(run.startedAt) })
      expect(dead!.error).toMatch(/^interrupted: the process \(pid 1 on host worker-elsewhere\) ended without finishing, or stopped answering/)
    })

    it('refuses a second run in this same process, but takes over a lock of this pid that no run here holds', async () => {
      const state = await open(freshLocation())
      const first = await acquire(state, record('orders'))
      await expect(acquireRunLock(state, record('orders'))).rejects.toMatchObject({ code: 'LOCKED', message: expect.stringContaining(`pid ${process.pid}`) })
      await first.release()

      // A restarted container reuses its pid (often 1): the lock is its previous life's.
      const previous = await heldElsewhere(state, 'orders', { pid: process.pid })
      await acquire(state, record('orders'))
      expect((await state.listRuns({ syncId: 'orders' })).find((r) => r.runId === previous.runId)).toMatchObject({ status: 'failed' })
    })

    it('gives one of many runs started at once in this process the lock, never two', async () => {
      const location = freshLocation()
      const stores = await Promise.all([1, 2, 3].map(() => open(location)))
      for (let round = 0; round < 5; round++) {
        const attempts = await Promise.allSettled(stores.flatMap((state) => [0, 1].map(() => acquire(state, record(`sync-${round}`)))))
        expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(1)
        expect(attempts.filter((a) => a.status === 'rejected').map((a) => (a as PromiseRejectedResult).reason.code)).toEqual(Array(5).fill('LOCKED'))
      }
    })

    it('marks a running run that holds no lock (left by an older syncline) as interrupted', async () => {
      const state = await open(freshLocation())
      const orphan = record('orders')
      await state.startRun(orphan)
      const [marked] = await markInterruptedRuns(state)
      expect(marked).toMatchObject({ runId: orphan.runId, status: 'failed', error: expect.stringMatching(/^interrupted: the process running it ended without finishing/) })
      expect((await state.listRuns())[0]).toMatchObject({ status: 'failed' })
    })

    it('keeps its heartbeat fresh while held, and tells the run when another process took the lock over', async () => {
      const state = await open(freshLocation())
      const run = record('orders')
      const lock = await acquire(state, run, { heartbeatMs: 50 })
      for (let i = 0; i < 40 && (await state.getRunLock('orders'))!.heartbeatAt === lock.lock.heartbeatAt; i++) await new Promise((r) => setTimeout(r, 50))
      const current = (await state.getRunLock('orders'))!
      expect(current.heartbeatAt > lock.lock.heartbeatAt).toBe(true)
      expect(lock.lost.aborted).toBe(false)

      // Another machine judged it dead (say its heartbeats stopped reaching the store) and took over.
      const taker = lockOf(record('orders'), { host: 'worker-elsewhere', pid: 77 })
      expect(await state.claimRunLock(taker, (await state.getRunLock('orders'))!)).toBe(true)
      for (let i = 0; i < 40 && !lock.lost.aborted; i++) await new Promise((r) => setTimeout(r, 50))
      expect(lock.lost.aborted).toBe(true)
      expect(lock.lost.reason).toMatchObject({ code: 'LOCKED', message: expect.stringContaining('lost its run lock to pid 77 on host worker-elsewhere') })
      await lock.release()
      // Releasing a lost lock leaves the new holder's.
      expect(await state.getRunLock('orders')).toMatchObject({ runId: taker.runId })
    })

    describe('processes racing', () => {
      beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

      /** Start `n` processes that try to take the lock at the same instant; each prints `won` (and keeps it) or its error code. */
      async function race(location: Location, n: number): Promise<string[]> {
        const startAt = Date.now() + 1500
        const script = `
          const [location, startAt] = [JSON.parse(process.argv[1]), Number(process.argv[2])]
          const dist = ${JSON.stringify(join(ROOT, 'dist'))}
          const { acquireRunLock } = await import(dist + '/state/run-lock.js')
          const state = location.kind === 'sqlite'
            ? (await import(dist + '/state/sqlite-state-store.js')).openSqliteStateStore(location.path)
            : await (await import(dist + '/state/postgres-state-store.js')).openPostgresStateStore(location.url, { schema: location.schema })
          const run = ${JSON.stringify(record('orders', 'RUN'))}
          run.runId = 'racer-' + process.pid
          await new Promise((r) => setTimeout(r, startAt - Date.now()))
          try {
            await acquireRunLock(state, run)
            await state.startRun(run)
            process.stdout.write('won\\n')
            setInterval(() => {}, 1000)
          } catch (error) {
            process.stdout.write((error.code ?? String(error)) + '\\n')
            await state.close()
          }`
        const outputs = Array.from({ length: n }, () => {
          const child = spawn(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(location), String(startAt)], { stdio: ['ignore', 'pipe', 'inherit'] })
          children.push(child)
          return new Promise<string>((resolve, reject) => {
            let out = ''
            child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
              out += chunk
              if (out.includes('\n')) resolve(out.trim())
            })
            child.once('exit', (code) => reject(new Error(`a racer exited with ${code} before answering: ${out}`)))
          })
        })
        return Promise.all(outputs)
      }

      it('gives a free lock to exactly one of them', async () => {
        const location = freshLocation()
        await open(location) // creates the tables before the race
        const answers = await race(location, 4)
        expect(answers.sort()).toEqual(['LOCKED', 'LOCKED', 'LOCKED', 'won'])
      }, 30_000)

      it('gives a stale lock to exactly one of them, which marks the dead run once', async () => {
        const location = freshLocation()
        const state = await open(location)
        const holder = liveProcess()
        const dead = await heldElsewhere(state, 'orders', { pid: holder.pid! })
        await kill(holder)
        const answers = await race(location, 4)
        expect(answers.sort()).toEqual(['LOCKED', 'LOCKED', 'LOCKED', 'won'])
        const runs = await state.listRuns({ syncId: 'orders' })
        expect(runs.find((r) => r.runId === dead.runId)).toMatchObject({ status: 'failed' })
        expect(runs.filter((r) => r.status === 'running')).toHaveLength(1)
        expect((await state.getRunLock('orders'))!.runId).toBe(runs.find((r) => r.status === 'running')!.runId)
      }, 30_000)
    })
  })
}
