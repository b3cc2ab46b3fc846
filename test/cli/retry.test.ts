/**
 * `syncline run` retries a transient failure as the plan says: a
 * PostgreSQL destination that refuses connections at the first attempt and
 * is reachable at the next; the retry is announced on stderr and the result
 * line says which attempt succeeded.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createPgDatabase, hasPostgres, pgQuery } from '../helpers/services.js'
import { freePort, startProxy, type TcpProxy } from '../helpers/tcp-proxy.js'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines, startCli } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

const pgAvailable = await hasPostgres()
const required = process.env.SYNCLINE_TEST_SERVICES === 'required'

let ws: Workspace | undefined
const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  ws?.remove()
  ws = undefined
})

describe.skipIf(!pgAvailable && !required)('syncline run with retries', () => {
  it('retries a refused connection after the backoff and reports the attempt that succeeded', async () => {
    ws = workspace()
    const destination = await createPgDatabase('syncline_cli_retry')
    cleanups.push(destination.drop)
    const port = await freePort()
    const through = new URL(destination.url)
    through.port = String(port)
    ws.sqlite('src.db', `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL); INSERT INTO items VALUES (1, 'one'), (2, 'two')`)
    ws.write('syncline.yaml', `connections:
  src: { url: sqlite:./src.db }
  dst: { url: ${through.toString()} }
syncs:
  - id: items
    source: { connection: src, entity: items }
    destination: { connection: dst, entity: items, create: true }
    retries: 3
    retryDelay: 2s
`)
    const running = startCli(['run', '--json'], { cwd: ws.dir })
    await running.waitForStderr(/^items: attempt 1 failed \(CONNECTION_REFUSED: Cannot connect to PostgreSQL .*\); retrying in \d\.\d s$/m)
    const proxy: TcpProxy = await startProxy(port, { host: '127.0.0.1', port: Number(new URL(destination.url).port || 5432) })
    cleanups.push(() => proxy.close())
    const result = await running.done
    expect(result.code, result.all).toBe(0)
    expect(jsonLines(result.stdout)[0]).toMatchObject({ id: 'items', status: 'succeeded', attempt: 2, created: 2 })
    expect(await pgQuery(destination.url, 'SELECT name FROM items ORDER BY id')).toEqual([{ name: 'one' }, { name: 'two' }])
    const history = await ws.run(['history', 'items'])
    expect(history.stdout).toMatch(/ items {2}succeeded \(attempt 2\) /)
    expect(history.stdout).toMatch(/ items {2}failed {2}full /)
    expect(history.stdout).toContain('Cannot connect to PostgreSQL')
  }, 60_000)
})
