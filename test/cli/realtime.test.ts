/**
 * `syncline run` on a realtime sync, as a service would run it: a second
 * process writes a stream of changes into the source, the sync is killed
 * outright (SIGKILL) in the middle and restarted, and once it has caught up
 * the destination is identical to the source. SIGTERM stops it in order:
 * exit 0, the run `succeeded`, its position saved.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BUILD_TIMEOUT_MS, ROOT, ensureBuilt } from './build.js'
import { jsonLines, startCli, STACK_FRAME, type RunningCli } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

const SEED_ROWS = 300
const WRITES = 3000

let ws: Workspace | undefined
const children: ChildProcess[] = []
const syncs: RunningCli[] = []
afterEach(async () => {
  for (const running of syncs.splice(0)) {
    running.child.kill('SIGKILL')
    await running.done.catch(() => undefined)
  }
  for (const child of children.splice(0)) child.kill('SIGKILL')
  ws?.remove()
  ws = undefined
})

/**
 * A writer process: `WRITES` changes into `items` of a SQLite file, each its
 * own transaction except every 25th (three statements at once): inserts,
 * updates and deletes chosen by a fixed pseudo-random sequence.
 */
function startSqliteWriter(file: string): Promise<void> {
  const script = `
    const Database = require('better-sqlite3')
    const db = new Database(process.env.DB, { timeout: 10000 })
    let seed = 7
    const next = (n) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n)
    let id = ${SEED_ROWS}
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
    ;(async () => {
      for (let i = 1; i <= ${WRITES}; i++) {
        const op = next(10)
        if (i % 25 === 0) {
          db.transaction(() => {
            db.prepare('INSERT INTO items VALUES (?, ?, ?)').run(++id, 'tx ' + i, i)
            db.prepare('UPDATE items SET qty = qty + 1 WHERE id = ?').run(1 + next(id))
            db.prepare('DELETE FROM items WHERE id = ?').run(1 + next(id))
          })()
        } else if (op < 4) db.prepare('INSERT INTO items VALUES (?, ?, ?)').run(++id, 'new ' + i, i)
        else if (op < 8) db.prepare('UPDATE items SET name = ?, qty = ? WHERE id = ?').run('upd ' + i, i, 1 + next(id))
        else db.prepare('DELETE FROM items WHERE id = ?').run(1 + next(id))
        if (i % 20 === 0) await sleep(5)
      }
      db.close()
    })()
  `
  const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, env: { ...process.env, DB: file }, stdio: ['ignore', 'ignore', 'pipe'] })
  children.push(child)
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  return new Promise((resolve, reject) => child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code}: ${stderr}`)))))
}

function startSync(dir: string): RunningCli {
  const running = startCli(['run', 'items', '--json'], { cwd: dir, timeoutMs: 120_000 })
  syncs.push(running)
  return running
}

/** Wait until `check` returns true, at most `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('syncline run on a realtime sync (SQLite source)', () => {
  it('survives SIGKILL mid-stream: restarted, it catches up to a destination identical to the source; SIGTERM then exits 0 with the position saved', async () => {
    const w = (ws = workspace())
    w.sqlite('src.db', `PRAGMA journal_mode = WAL; CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL);
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${SEED_ROWS}) INSERT INTO items SELECT i, 'item ' || i, i FROM n;`)
    w.write('syncline.yaml', `connections:
  src:
    url: sqlite:./src.db
  dst:
    url: sqlite:./dst.db
syncs:
  - id: items
    source: { connection: src, entity: items }
    destination: { connection: dst, entity: items, create: true }
    mode: realtime
    batchSize: 100
`)
    const rows = (file: string) => JSON.stringify(w.sqliteRows(file, 'SELECT id, name, qty FROM items ORDER BY id'))

    const first = startSync(w.dir)
    await first.waitForStderr(/"phase":"stream"/)
    expect(rows('dst.db')).toBe(rows('src.db'))

    let writerDone = false
    const writing = startSqliteWriter(w.path('src.db')).then(() => void (writerDone = true))
    // Mid-stream: some changes applied, more coming.
    const streamed = () => Number(w.sqliteRows<{ n: number }>('dst.db', `SELECT count(*) AS n FROM items WHERE id > ${SEED_ROWS}`)[0]!.n)
    await until(() => streamed() >= 20, 20_000, 'the first changes to land')
    // Killed in the middle of the stream of writes.
    expect(writerDone).toBe(false)
    first.child.kill('SIGKILL')
    const killed = await first.done
    expect(killed.signal).toBe('SIGKILL')

    const second = startSync(w.dir)
    await second.waitForStderr(/"phase":"stream"/)
    await writing
    await until(() => rows('dst.db') === rows('src.db'), 30_000, 'the destination to catch up with the source')

    second.child.kill('SIGTERM')
    const stopped = await second.done
    expect(stopped.code, stopped.all).toBe(0)
    expect(stopped.all).not.toMatch(STACK_FRAME)
    expect(jsonLines(stopped.stdout)[0]).toMatchObject({ id: 'items', status: 'succeeded', mode: 'realtime', failed: 0 })
    expect(rows('dst.db')).toBe(rows('src.db'))

    const status = jsonLines((await w.run(['status', '--json'])).stdout)[0]
    expect(status).toMatchObject({ id: 'items', lastRun: { status: 'succeeded' }, stream: { position: expect.any(String), lagSeconds: 0 } })

    // Forgetting it drops its consumer at the source: nothing is kept for it any more.
    const forgotten = await w.run(['forget', 'items'])
    expect(forgotten.code, forgotten.all).toBe(0)
    expect(jsonLines((await w.run(['status', '--json'])).stdout)[0]).not.toHaveProperty('stream')
  }, 120_000)
})
