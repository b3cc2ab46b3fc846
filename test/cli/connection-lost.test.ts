/**
 * A PostgreSQL destination that drops its connections mid-run (the server
 * restarts, an administrator kills the backends): the run fails with exit 1
 * and a message about the lost connection (no stack trace, no password),
 * and the next run completes from the kept watermark.
 */
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { postgresDatasource, type TestDatasource } from '../engine/datasources.js'
import { hasPostgres, PG_URL } from '../helpers/services.js'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines, startCli, STACK_FRAME } from './cli.js'
import { fillItems, workspace, type Workspace } from './workspace.js'

const pgAvailable = await hasPostgres()
const ROWS = 100_000

describe.skipIf(!pgAvailable)('a destination connection dropped during syncline run', () => {
  let destination: TestDatasource
  let ws: Workspace
  beforeAll(async () => {
    await ensureBuilt()
    destination = await postgresDatasource()
  }, BUILD_TIMEOUT_MS)
  afterAll(() => destination?.cleanup())
  afterEach(() => ws?.remove())

  it('fails with exit 1 and a clear message, and the rerun completes', async () => {
    ws = workspace()
    fillItems(ws.path('src.db'), ROWS)
    const database = new URL(destination.url).pathname.slice(1)
    const url = new URL(destination.url)
    url.password = 'url-secret-c4e2' // trust auth ignores it; it must never be printed
    ws.write('syncline.yaml', `connections:
  src:
    url: sqlite:./src.db
  dst:
    url: ${url.toString()}
syncs:
  - id: items
    source: { connection: src, entity: items }
    destination: { connection: dst, entity: items, create: true }
    mode: incremental
    cursor: updated_at
    batchSize: 500
    # One attempt: this test is about how a run fails (retries: test/scheduler/retry.test.ts).
    retries: 0
    # A filter keeps the first run on the row path (batch by batch, with
    # checkpoints) instead of one bulk COPY, which is what this test is about.
    filters: [{ field: id, op: ">", value: 0 }]
`)

    const running = startCli(['run'], { cwd: ws.dir })
    await running.waitForStderr(/^items: changes /m)
    // Kill every backend of the destination database for a while, from another client.
    const admin = new pg.Client({ connectionString: PG_URL })
    await admin.connect()
    let terminated = 0
    try {
      const until = Date.now() + 3000
      while (Date.now() < until && running.child.exitCode === null) {
        const { rows } = await admin.query<{ n: string }>(
          `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
          [database],
        )
        terminated += Number(rows[0]!.n)
        await new Promise((r) => setTimeout(r, 50))
      }
    } finally {
      await admin.end()
    }
    const failed = await running.done
    expect(terminated).toBeGreaterThan(0)
    expect(failed.code, failed.all).toBe(1)
    expect(failed.stdout).toMatch(/^items: failed/m)
    expect(failed.stdout).toMatch(/Lost the connection to PostgreSQL at 127\.0\.0\.1:\d+/)
    expect(failed.all).not.toMatch(STACK_FRAME)
    expect(failed.all).not.toContain('url-secret-c4e2')

    const landed = Number((await destination.query<{ n: string }>(`SELECT count(*) AS n FROM items`))[0]!.n)
    expect(landed).toBeLessThan(ROWS)

    const rerun = await ws.run(['run', '--json'])
    expect(rerun.code, rerun.all).toBe(0)
    expect(jsonLines(rerun.stdout)[0]).toMatchObject({ status: 'succeeded', failed: 0 })
    expect(Number((await destination.query<{ n: string }>(`SELECT count(*) AS n FROM items`))[0]!.n)).toBe(ROWS)
    const ends = await destination.query<{ id: string; name: string }>(`(SELECT id::text, name FROM items ORDER BY items.id LIMIT 1) UNION ALL (SELECT id::text, name FROM items ORDER BY items.id DESC LIMIT 1)`)
    expect(ends).toEqual([{ id: '1', name: 'item 1' }, { id: String(ROWS), name: `item ${ROWS}` }])
  })
})
