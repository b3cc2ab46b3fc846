/**
 * One run of a sync at a time, and no run that stays "running" after its
 * process died (issue 6, item 5), as a user meets it: real `syncline`
 * processes, with state in the default SQLite file and in PostgreSQL.
 *
 * A run is made to wait for real inside its scan: the source is a PostgreSQL
 * table on which the test holds `LOCK TABLE … IN ACCESS EXCLUSIVE MODE` in an
 * open transaction, so the run blocks until the test commits.
 */
import pg from 'pg'
import { hostname } from 'node:os'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { postgresDatasource, type TestDatasource } from '../engine/datasources.js'
import { createPgDatabase, hasPostgres, pgQuery } from '../helpers/services.js'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines, startCli, STACK_FRAME, type RunningCli } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

const pgAvailable = await hasPostgres()
const ROWS = 50

for (const stateKind of ['sqlite', 'postgres'] as const) {
  describe.skipIf(!pgAvailable)(`run lock, state in ${stateKind}`, () => {
    let source: TestDatasource
    let stateDb: Awaited<ReturnType<typeof createPgDatabase>> | undefined
    let ws: Workspace
    /** Every command a test starts; killed after it, whatever happened. */
    let started: RunningCli[] = []
    /** The test's transaction holding the source table. */
    let locker: pg.Client | undefined

    beforeAll(async () => {
      await ensureBuilt()
      source = await postgresDatasource()
      await source.exec(`CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL)`)
      await source.exec(`INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, ${ROWS}) g`)
      await source.exec(`CREATE TABLE others (id integer PRIMARY KEY, name text NOT NULL)`)
      await source.exec(`INSERT INTO others VALUES (1, 'one'), (2, 'two')`)
      if (stateKind === 'postgres') stateDb = await createPgDatabase('syncline_lockstate')
    }, BUILD_TIMEOUT_MS)
    afterAll(async () => {
      await source?.cleanup()
      await stateDb?.drop()
    })

    beforeEach(async () => {
      ws = workspace()
      ws.sqlite('backup.db', '')
      if (stateDb) await pgQuery(stateDb.url, 'DROP SCHEMA IF EXISTS syncline CASCADE')
      ws.write('syncline.yaml', `${stateDb ? `state: ${stateDb.url}\n` : ''}connections:
  shop:
    url: ${source.url}
  backup:
    url: sqlite:./backup.db
syncs:
  - id: items
    source: { connection: shop, entity: items }
    destination: { connection: backup, entity: items, create: true }
  - id: others
    source: { connection: shop, entity: others }
    destination: { connection: backup, entity: others, create: true }
`)
    })
    afterEach(async () => {
      for (const cli of started) if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL')
      await Promise.all(started.map((cli) => cli.done.catch(() => undefined)))
      started = []
      await releaseSource()
      ws?.remove()
    })

    const start = (args: string[], timeoutMs = 60_000): RunningCli => {
      const cli = startCli(args, { cwd: ws.dir, timeoutMs })
      started.push(cli)
      return cli
    }
    const run = (args: string[], timeoutMs?: number) => start(args, timeoutMs).done

    async function holdSource(): Promise<void> {
      locker = new pg.Client({ connectionString: source.url })
      await locker.connect()
      await locker.query('BEGIN')
      await locker.query('LOCK TABLE items IN ACCESS EXCLUSIVE MODE')
    }
    async function releaseSource(): Promise<void> {
      const client = locker
      locker = undefined
      if (!client) return
      await client.query('COMMIT').catch(() => undefined)
      await client.end().catch(() => undefined)
    }
    /** Wait until some session waits for the test's lock on `items`: the run is inside its scan. */
    async function waitUntilBlocked(cli: RunningCli): Promise<void> {
      const until = Date.now() + 30_000
      while (Date.now() < until) {
        if (cli.child.exitCode !== null) throw new Error(`the run ended before it reached the source:\n${cli.stdout}\n${cli.stderr}`)
        const [row] = await source.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
           WHERE c.relname = 'items' AND NOT l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        )
        if (Number(row!.n) > 0) return
        await new Promise((r) => setTimeout(r, 100))
      }
      throw new Error('the run never reached the source table')
    }
    const destinationCount = () => Number(ws.sqliteRows<{ n: number }>('backup.db', 'SELECT count(*) AS n FROM items')[0]!.n)

    it('refuses a second run of a running sync with exit 1, runs other syncs meanwhile, and runs again once the first ended', async () => {
      await holdSource()
      const first = start(['run', 'items', '--json'])
      await waitUntilBlocked(first)

      // Without a lock the second run would wait on the table too, and be killed by this timeout.
      const second = await run(['run', 'items', '--json'], 20_000)
      expect(second.code, second.all).toBe(1)
      const [line] = jsonLines(second.stdout)
      expect(line).toMatchObject({ id: 'items', status: 'failed', errorCode: 'LOCKED', read: 0, created: 0 })
      const message = String(line!.error)
      expect(message).toMatch(/already running/)
      expect(message).toContain(`pid ${first.child.pid}`)
      expect(message).toContain(hostname())
      expect(message).toMatch(/since \d{4}-\d\d-\d\dT/)
      expect(message).toMatch(/wait for it to finish/)
      expect(second.all).not.toMatch(STACK_FRAME)

      const human = await run(['run', 'items'], 20_000)
      expect(human.code, human.all).toBe(1)
      expect(human.stdout).toMatch(/^items: failed/m)
      expect(human.stdout).toMatch(/already running/)

      // Another sync of the same plan is not held up.
      const other = await run(['run', 'others', '--json'], 20_000)
      expect(other.code, other.all).toBe(0)
      expect(jsonLines(other.stdout)[0]).toMatchObject({ id: 'others', status: 'succeeded', created: 2 })

      // The refused runs did not hide the running one, and status says who runs it.
      const status = jsonLines((await run(['status', '--json'])).stdout).find((s) => s.id === 'items')
      expect(status).toMatchObject({ lastRun: { status: 'running' }, lock: { pid: first.child.pid, host: hostname() } })
      const humanStatus = await run(['status'])
      expect(humanStatus.stdout).toMatch(/^items: running at /m)
      expect(humanStatus.stdout).toContain(`running now: pid ${first.child.pid} on host ${hostname()} since `)

      await releaseSource()
      const firstDone = await first.done
      expect(firstDone.code, firstDone.all).toBe(0)
      expect(jsonLines(firstDone.stdout)[0]).toMatchObject({ id: 'items', status: 'succeeded', created: ROWS })
      expect(destinationCount()).toBe(ROWS)

      const third = await run(['run', 'items', '--json'])
      expect(third.code, third.all).toBe(0)
      expect(jsonLines(third.stdout)[0]).toMatchObject({ status: 'succeeded', unchanged: ROWS })
    })

    it('shows a killed run as failed (interrupted), not running, and the next run takes its lock over', async () => {
      await holdSource()
      const doomed = start(['run', 'items'])
      await waitUntilBlocked(doomed)
      const pid = doomed.child.pid
      doomed.child.kill('SIGKILL')
      await doomed.done

      const status = await run(['status', '--json'])
      expect(status.code, status.all).toBe(0)
      const row = jsonLines(status.stdout).find((s) => s.id === 'items') as { lastRun: { status: string; error: string; finishedAt?: string } }
      expect(row.lastRun.status).toBe('failed')
      expect(row.lastRun.error).toMatch(/^interrupted: the process \(pid \d+ on host .+\) ended without finishing/)
      expect(row.lastRun.error).toContain(`pid ${pid} on host ${hostname()}`)
      expect(row.lastRun.finishedAt).toBeDefined()

      const history = await run(['history', 'items'])
      expect(history.code, history.all).toBe(0)
      expect(history.stdout).toMatch(/items {2}failed {2}full/)
      expect(history.stdout).toMatch(/interrupted: the process/)
      expect(history.stdout).not.toMatch(/running/)

      await releaseSource()
      const next = await run(['run', 'items', '--json'])
      expect(next.code, next.all).toBe(0)
      expect(jsonLines(next.stdout)[0]).toMatchObject({ status: 'succeeded', created: ROWS })
      const runs = jsonLines((await run(['history', 'items', '--json'])).stdout)
      expect(runs.map((r) => r.status)).toEqual(['succeeded', 'failed'])
    })

    it('runs again after a killed run without a status call in between, recording the killed one as interrupted', async () => {
      await holdSource()
      const doomed = start(['run', 'items'])
      await waitUntilBlocked(doomed)
      doomed.child.kill('SIGKILL')
      await doomed.done
      await releaseSource()

      const next = await run(['run', 'items', '--json'])
      expect(next.code, next.all).toBe(0)
      expect(jsonLines(next.stdout)[0]).toMatchObject({ status: 'succeeded', created: ROWS })
      const runs = jsonLines((await run(['history', 'items', '--json'])).stdout)
      expect(runs.map((r) => [r.status, String(r.error ?? '')])).toEqual([
        ['succeeded', ''],
        ['failed', expect.stringMatching(/^interrupted: the process/)],
      ])
    })

    it('a second Ctrl-C ends the run at once and it shows as failed (interrupted), not running', async () => {
      await holdSource()
      const running = start(['run', 'items'])
      await waitUntilBlocked(running)
      running.child.kill('SIGINT')
      await running.waitForStderr(/Stopping at the next batch boundary/)
      running.child.kill('SIGINT')
      const ended = await running.done
      expect(ended.code, ended.all).toBe(130)
      expect(ended.all).not.toMatch(STACK_FRAME)

      const history = jsonLines((await run(['history', 'items', '--json'])).stdout)
      expect(history[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/^interrupted: stopped by a second Ctrl-C \(pid \d+ on host /) })

      await releaseSource()
      const next = await run(['run', 'items', '--json'])
      expect(next.code, next.all).toBe(0)
      expect(jsonLines(next.stdout)[0]).toMatchObject({ status: 'succeeded', created: ROWS })
    })
  })
}
