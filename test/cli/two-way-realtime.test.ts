/**
 * `syncline run` on a realtime two-way sync (PostgreSQL <-> SQLite), as a
 * service would run it: a writer process on each side edits its own range
 * of rows (inserts, updates, deletes), the sync is killed outright (SIGKILL)
 * mid-stream and restarted, and once both writers are done and it has caught
 * up, both sides are identical, with no conflict found (the sides never
 * edited the same rows). SIGTERM then stops it with exit 0; `status` shows
 * both streams; `forget` drops both consumers.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createPgDatabase, pgQuery } from '../helpers/services.js'
import { BUILD_TIMEOUT_MS, ROOT, ensureBuilt } from './build.js'
import { jsonLines, startCli, STACK_FRAME, type RunningCli } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

const SEED_ROWS = 200
const WRITES = 400

let ws: Workspace | undefined
const children: ChildProcess[] = []
const syncs: RunningCli[] = []
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const running of syncs.splice(0)) {
    running.child.kill('SIGKILL')
    await running.done.catch(() => undefined)
  }
  for (const child of children.splice(0)) child.kill('SIGKILL')
  for (const cleanup of cleanups.splice(0)) await cleanup()
  ws?.remove()
  ws = undefined
})

/**
 * `WRITES` changes to the rows `FIRST`..`FIRST + SEED_ROWS / 2 - 1` and new
 * rows from `NEW`, each its own transaction, chosen by a fixed pseudo-random
 * sequence; every change stamps `updated_at`. Halfway it waits for the
 * file `GATE`. `run(sql, params)` is the database's, defined by the script
 * around it.
 */
const WRITE_LOOP = `
  let seed = Number(process.env.SEED)
  const next = (n) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n)
  const first = Number(process.env.FIRST), half = ${SEED_ROWS / 2}
  let id = Number(process.env.NEW)
  const now = () => new Date().toISOString()
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
  for (let i = 1; i <= ${WRITES}; i++) {
    const op = next(10)
    if (op < 3) await run('INSERT INTO items VALUES (?, ?, ?, ?)', [++id, 'new ' + i, i, now()])
    else if (op < 8) await run('UPDATE items SET name = ?, qty = ?, updated_at = ? WHERE id = ?', ['upd ' + i, i, now(), first + next(half)])
    else await run('DELETE FROM items WHERE id = ?', [first + next(half)])
    if (i % 20 === 0) await sleep(5)
    // Halfway, wait for the test to open the gate: the kill then comes while writes still flow, however slow the machine.
    if (i === ${WRITES / 2}) while (!require('fs').existsSync(process.env.GATE)) await sleep(20)
  }
`

const SQLITE_WRITER = `
  const Database = require('better-sqlite3')
  const db = new Database(process.env.TARGET, { timeout: 10000 })
  const run = async (sql, params) => db.prepare(sql).run(...params)
  ;(async () => { ${WRITE_LOOP}; db.close() })().catch((e) => { console.error(e); process.exit(1) })
`

const POSTGRES_WRITER = `
  const pg = require('pg')
  const client = new pg.Client({ connectionString: process.env.TARGET })
  const run = async (sql, params) => { let n = 0; await client.query(sql.replace(/\\?/g, () => '$' + ++n), params) }
  ;(async () => { await client.connect(); ${WRITE_LOOP}; await client.end() })().catch((e) => { console.error(e); process.exit(1) })
`

/** Run a writer script against `target`; resolves when it is done. */
function startWriter(script: string, target: string, env: Record<string, string>): Promise<void> {
  const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, env: { ...process.env, TARGET: target, ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
  children.push(child)
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  return new Promise((resolve, reject) => child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code}: ${stderr}`)))))
}

/** Wait until `check` returns true, at most `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('syncline run on a realtime two-way sync (PostgreSQL <-> SQLite)', () => {
  it('survives SIGKILL mid-stream with both sides writing: restarted, both sides end identical without a conflict', async () => {
    const w = (ws = workspace())
    const db = await createPgDatabase('syncline_cli_rt2')
    cleanups.push(async () => {
      // A slot left by a failed case would keep the database from being dropped.
      await pgQuery(db.url, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = current_database() AND active_pid IS NOT NULL`)
      await pgQuery(db.url, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database() AND NOT active`).catch(() => undefined)
      await db.drop()
    })
    await pgQuery(db.url, `CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL, qty integer NOT NULL, updated_at timestamptz NOT NULL);
      INSERT INTO items SELECT i, 'item ' || i, i, '2026-01-01T00:00:00Z' FROM generate_series(1, ${SEED_ROWS}) AS i`)
    w.sqlite('dst.db', `PRAGMA journal_mode = WAL; CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL, updated_at TIMESTAMP NOT NULL)`)
    w.write('syncline.yaml', `connections:
  src:
    url: ${db.url}
  dst:
    url: sqlite:./dst.db
syncs:
  - id: items-both-ways
    source: { connection: src, entity: items }
    destination: { connection: dst, entity: items }
    mode: realtime
    direction: two-way
    cursor: updated_at
    batchSize: 50
`)
    const sourceRows = async () => JSON.stringify(await pgQuery(db.url, 'SELECT id, name, qty FROM items ORDER BY id'))
    const destinationRows = () => JSON.stringify(w.sqliteRows('dst.db', 'SELECT id, name, qty FROM items ORDER BY id'))
    const start = () => {
      const running = startCli(['run', 'items-both-ways', '--json'], { cwd: w.dir, timeoutMs: 120_000 })
      syncs.push(running)
      return running
    }

    const first = start()
    await first.waitForStderr(/"phase":"stream"/)
    expect(destinationRows()).toBe(await sourceRows())

    // The source edits rows 1-100 and inserts from 10001; the destination rows 101-200 and inserts from 20001.
    const gate = w.path('writers-go-on')
    let writersDone = false
    const writing = Promise.all([
      startWriter(POSTGRES_WRITER, db.url, { SEED: '7', FIRST: '1', NEW: '10000', GATE: gate }),
      startWriter(SQLITE_WRITER, w.path('dst.db'), { SEED: '11', FIRST: String(SEED_ROWS / 2 + 1), NEW: '20000', GATE: gate }),
    ]).then(() => void (writersDone = true))
    // Mid-stream: changes of both sides applied, more coming.
    const landed = async () => {
      const fromSource = Number(w.sqliteRows<{ n: number }>('dst.db', 'SELECT count(*) AS n FROM items WHERE id > 10000 AND id < 20000')[0]!.n)
      const fromDestination = Number((await pgQuery<{ n: string }>(db.url, 'SELECT count(*) AS n FROM items WHERE id > 20000'))[0]!.n)
      return fromSource >= 10 && fromDestination >= 10
    }
    await until(landed, 20_000, 'the first changes of both sides to land')
    expect(writersDone).toBe(false)
    w.write('writers-go-on', '')
    first.child.kill('SIGKILL')
    expect((await first.done).signal).toBe('SIGKILL')

    const second = start()
    await second.waitForStderr(/"phase":"stream"/)
    await writing
    await until(async () => destinationRows() === (await sourceRows()), 30_000, 'both sides to be identical')

    second.child.kill('SIGTERM')
    const stopped = await second.done
    expect(stopped.code, stopped.all).toBe(0)
    expect(stopped.all).not.toMatch(STACK_FRAME)
    expect(jsonLines(stopped.stdout)[0]).toMatchObject({ id: 'items-both-ways', status: 'succeeded', mode: 'realtime', failed: 0, conflicts: 0 })
    expect(destinationRows()).toBe(await sourceRows())

    const statuses = jsonLines((await w.run(['status', '--json'])).stdout)
    expect(statuses.find((s) => s.id === 'items-both-ways')).toMatchObject({ stream: { position: expect.any(String) } })
    expect(statuses.find((s) => s.id === 'items-both-ways:destination')).toMatchObject({ stream: { position: expect.any(String) } })

    // Forgetting it drops both consumers: the slot is gone, and so are both saved streams.
    const forgotten = await w.run(['forget', 'items-both-ways'])
    expect(forgotten.code, forgotten.all).toBe(0)
    expect(await pgQuery(db.url, 'SELECT slot_name FROM pg_replication_slots WHERE database = current_database()')).toEqual([])
    expect(jsonLines((await w.run(['status', '--json'])).stdout).filter((s) => 'stream' in s)).toEqual([])
  }, 150_000)
})
