/**
 * Stopping a long run with Ctrl-C: the run stops at a batch boundary, exits
 * 130, keeps the watermark of what landed, and the next run does the rest.
 * SQLite → SQLite is the hard case: every call is synchronous, so the run
 * must still give the signal handler a turn between batches.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines, startCli, STACK_FRAME } from './cli.js'
import { fillItems, workspace, type Workspace } from './workspace.js'

const ROWS = 200_000

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

let ws: Workspace
afterEach(() => ws?.remove())

const count = (file: string) => Number(ws.sqliteRows<{ n: number | bigint }>(file, 'SELECT count(*) AS n FROM items')[0]!.n)

describe('Ctrl-C during syncline run', () => {
  it('exits 130 at a batch boundary, keeps the watermark, and the next run completes the rest', async () => {
    ws = workspace()
    fillItems(ws.path('src.db'), ROWS)
    ws.sqlite('dst.db', '')
    ws.write('syncline.yaml', `connections:
  src:
    url: sqlite:./src.db
  dst:
    url: sqlite:./dst.db
syncs:
  - id: items
    source: { connection: src, entity: items }
    destination: { connection: dst, entity: items, create: true }
    mode: incremental
    cursor: updated_at
    batchSize: 500
`)
    // stderr is a pipe, so progress comes as plain lines there.
    const running = startCli(['run'], { cwd: ws.dir })
    await running.waitForStderr(/^items: changes /m)
    running.child.kill('SIGINT')
    const interrupted = await running.done
    expect(interrupted.code, interrupted.all).toBe(130)
    expect(interrupted.stderr).toContain('Stopping at the next batch boundary')
    expect(interrupted.stdout).toMatch(/^items: cancelled/m)
    expect(interrupted.all).not.toMatch(STACK_FRAME)

    const landed = count('dst.db')
    expect(landed).toBeGreaterThan(0)
    expect(landed).toBeLessThan(ROWS)
    expect(landed % 500).toBe(0) // whole batches only

    const status = jsonLines((await ws.run(['status', '--json'])).stdout)[0]
    expect(status).toMatchObject({ id: 'items', lastRun: { status: 'cancelled' }, watermark: { key: [landed] } })

    const resumed = await ws.run(['run', '--json'])
    expect(resumed.code).toBe(0)
    expect(jsonLines(resumed.stdout)[0]).toMatchObject({ status: 'succeeded', created: ROWS - landed, failed: 0 })
    expect(count('dst.db')).toBe(ROWS)
  })

  it('a run killed outright (SIGKILL, a crash) between batches loses nothing: the next run completes from the last checkpoint', async () => {
    ws = workspace()
    fillItems(ws.path('src.db'), ROWS)
    ws.sqlite('dst.db', '')
    ws.write('syncline.yaml', `connections:
  src:
    url: sqlite:./src.db
  dst:
    url: sqlite:./dst.db
syncs:
  - id: items
    source: { connection: src, entity: items }
    destination: { connection: dst, entity: items, create: true }
    mode: incremental
    cursor: updated_at
    lookback: 0s
    batchSize: 500
`)
    const running = startCli(['run'], { cwd: ws.dir })
    await running.waitForStderr(/^items: changes /m)
    running.child.kill('SIGKILL')
    await running.done
    const landed = count('dst.db')
    expect(landed).toBeLessThan(ROWS)

    // The watermark may trail what landed by the batch in flight; never lead it.
    const resumed = await ws.run(['run', '--json'])
    expect(resumed.code, resumed.all).toBe(0)
    const result = jsonLines(resumed.stdout)[0]
    expect(result).toMatchObject({ status: 'succeeded', failed: 0 })
    expect(count('dst.db')).toBe(ROWS)
    expect(Number(result!.created)).toBe(ROWS - landed)
  })
})
