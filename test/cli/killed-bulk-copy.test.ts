/**
 * A first copy PostgreSQL → PostgreSQL killed outright (SIGKILL, a crash)
 * in the middle of its binary COPY: the destination transaction dies with the
 * connection, so the table stays empty, no watermark is saved, and the next
 * run copies every row, exactly.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createPgDatabase, pgQuery } from '../helpers/services.js'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines, startCli } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

const ROWS = 200_000

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

describe('a first bulk copy killed mid-COPY', () => {
  let src: Awaited<ReturnType<typeof createPgDatabase>>
  let dst: Awaited<ReturnType<typeof createPgDatabase>>
  let ws: Workspace | undefined
  beforeAll(async () => {
    src = await createPgDatabase('syncline_killsrc')
    dst = await createPgDatabase('syncline_killdst')
    await pgQuery(src.url, `CREATE TABLE items (id bigint PRIMARY KEY, payload text NOT NULL, amount numeric(12,2) NOT NULL, updated_at timestamptz NOT NULL)`)
    await pgQuery(src.url, `INSERT INTO items SELECT g, repeat(md5(g::text), 4), g / 100.0, '2026-01-01T00:00:00Z'::timestamptz + g * interval '1 millisecond' FROM generate_series(1, ${ROWS}) g`)
  })
  afterEach(() => ws?.remove())
  afterAll(async () => {
    await src?.drop()
    await dst?.drop()
  })

  it('leaves the destination empty and no watermark; the next run copies every row exactly', async () => {
    ws = workspace()
    ws.write('syncline.yaml', `connections:
  src: { url: "${src.url}" }
  dst: { url: "${dst.url}" }
syncs:
  - id: items
    source: { connection: src, entity: items }
    destination: { connection: dst, entity: items, create: true }
    mode: incremental
    cursor: updated_at
    lookback: 0s
`)
    // stderr is a pipe, so progress comes as plain lines there.
    const running = startCli(['run'], { cwd: ws.dir })
    await running.waitForStderr(/rows copied in bulk/)
    running.child.kill('SIGKILL')
    const killed = await running.done
    expect(killed.signal).toBe('SIGKILL')
    expect(killed.stdout).not.toMatch(/succeeded/)

    const count = async () => Number((await pgQuery<{ n: string }>(dst.url, 'SELECT count(*) AS n FROM items'))[0]!.n)
    expect(await count()).toBe(0)
    const status = jsonLines((await ws.run(['status', '--json'])).stdout)[0]
    expect(status?.watermark).toBeUndefined()

    const again = await ws.run(['run', '--json'])
    expect(again.code, again.all).toBe(0)
    expect(jsonLines(again.stdout)[0]).toMatchObject({ status: 'succeeded', created: ROWS, failed: 0 })
    expect(await count()).toBe(ROWS)
    const digest = (url: string) => pgQuery<{ d: string }>(url, `SELECT md5(string_agg(id || '|' || payload || '|' || amount || '|' || updated_at, ',' ORDER BY id)) AS d FROM items`)
    expect(await digest(dst.url)).toEqual(await digest(src.url))
  })
})
