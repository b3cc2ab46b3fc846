/**
 * `syncline run` on a realtime sync, as a service would run it: a second
 * process writes a stream of changes into the source, the sync is killed
 * outright (SIGKILL) in the middle and restarted, and once it has caught up
 * the destination is identical to the source. SIGTERM stops it in order:
 * exit 0, the run `succeeded`, its position saved.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createPgDatabase, hasPostgres, pgQuery } from '../helpers/services.js'
import { BUILD_TIMEOUT_MS, ROOT, ensureBuilt } from './build.js'
import { jsonLines, startCli, STACK_FRAME, type RunningCli } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

const pgAvailable = await hasPostgres()

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

const SEED_ROWS = 300
const WRITES = 3000

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
 * The writes of the writer processes: `WRITES` changes, each its own
 * transaction except every 25th (three statements at once): inserts,
 * updates and deletes chosen by a fixed pseudo-random sequence. `run(sql,
 * params)` and `tx(fn)` are the database's, defined by the script around it.
 */
const WRITE_LOOP = `
  let seed = 7
  const next = (n) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n)
  let id = ${SEED_ROWS}
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
  for (let i = 1; i <= ${WRITES}; i++) {
    const op = next(10)
    if (i % 25 === 0) {
      await tx(async () => {
        await run('INSERT INTO items VALUES (?, ?, ?)', [++id, 'tx ' + i, i])
        await run('UPDATE items SET qty = qty + 1 WHERE id = ?', [1 + next(id)])
        await run('DELETE FROM items WHERE id = ?', [1 + next(id)])
      })
    } else if (op < 4) await run('INSERT INTO items VALUES (?, ?, ?)', [++id, 'new ' + i, i])
    else if (op < 8) await run('UPDATE items SET name = ?, qty = ? WHERE id = ?', ['upd ' + i, i, 1 + next(id)])
    else await run('DELETE FROM items WHERE id = ?', [1 + next(id)])
    if (i % 20 === 0) await sleep(5)
  }
`

const SQLITE_WRITER = `
  const Database = require('better-sqlite3')
  const db = new Database(process.env.TARGET, { timeout: 10000 })
  const run = async (sql, params) => db.prepare(sql).run(...params)
  const tx = async (fn) => { db.exec('BEGIN IMMEDIATE'); await fn(); db.exec('COMMIT') }
  ;(async () => { ${WRITE_LOOP}; db.close() })().catch((e) => { console.error(e); process.exit(1) })
`

const POSTGRES_WRITER = `
  const pg = require('pg')
  const client = new pg.Client({ connectionString: process.env.TARGET })
  const run = async (sql, params) => { let n = 0; await client.query(sql.replace(/\\?/g, () => '$' + ++n), params) }
  const tx = async (fn) => { await client.query('BEGIN'); await fn(); await client.query('COMMIT') }
  ;(async () => { await client.connect(); ${WRITE_LOOP}; await client.end() })().catch((e) => { console.error(e); process.exit(1) })
`

/** Run a writer script against `target` (a SQLite file or a PostgreSQL URL); resolves when it is done. */
function startWriter(script: string, target: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, env: { ...process.env, TARGET: target }, stdio: ['ignore', 'ignore', 'pipe'] })
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

/** A source for the scenario: its plan URL, its rows as JSON, and its writer. */
interface Source {
  url: string
  rows(): Promise<string>
  write(): Promise<void>
}

async function sqliteSource(w: Workspace): Promise<Source> {
  w.sqlite('src.db', `PRAGMA journal_mode = WAL; CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${SEED_ROWS}) INSERT INTO items SELECT i, 'item ' || i, i FROM n;`)
  return {
    url: 'sqlite:./src.db',
    rows: async () => JSON.stringify(w.sqliteRows('src.db', 'SELECT id, name, qty FROM items ORDER BY id')),
    write: () => startWriter(SQLITE_WRITER, w.path('src.db')),
  }
}

async function postgresSource(): Promise<Source> {
  const db = await createPgDatabase('syncline_cli_rt')
  cleanups.push(async () => {
    // A slot left by a failed case would keep the database from being dropped.
    await pgQuery(db.url, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = current_database() AND active_pid IS NOT NULL`)
    await pgQuery(db.url, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database() AND NOT active`).catch(() => undefined)
    await db.drop()
  })
  await pgQuery(db.url, `CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL, qty integer NOT NULL);
    INSERT INTO items SELECT i, 'item ' || i, i FROM generate_series(1, ${SEED_ROWS}) AS i`)
  return {
    url: db.url,
    rows: async () => JSON.stringify(await pgQuery(db.url, 'SELECT id, name, qty FROM items ORDER BY id')),
    write: () => startWriter(POSTGRES_WRITER, db.url),
  }
}

const SOURCES = [['SQLite', sqliteSource], ...(pgAvailable ? [['PostgreSQL', postgresSource] as const] : [])] as const

for (const [label, openSource] of SOURCES) {
  describe(`syncline run on a realtime sync (${label} source)`, () => {
    it('survives SIGKILL mid-stream: restarted, it catches up to a destination identical to the source; SIGTERM then exits 0 with the position saved', async () => {
      const w = (ws = workspace())
      const source = await openSource(w)
      w.write('syncline.yaml', `connections:
  src:
    url: ${source.url}
  dst:
    url: sqlite:./dst.db
syncs:
  - id: items
    source: { connection: src, entity: items }
    destination: { connection: dst, entity: items, create: true }
    mode: realtime
    batchSize: 100
`)
      const destination = () => JSON.stringify(w.sqliteRows('dst.db', 'SELECT id, name, qty FROM items ORDER BY id'))

      const first = startSync(w.dir)
      await first.waitForStderr(/"phase":"stream"/)
      expect(destination()).toBe(await source.rows())

      let writerDone = false
      const writing = source.write().then(() => void (writerDone = true))
      // Mid-stream: some changes applied, more coming.
      const streamed = () => Number(w.sqliteRows<{ n: number }>('dst.db', `SELECT count(*) AS n FROM items WHERE id > ${SEED_ROWS}`)[0]!.n)
      await until(() => streamed() >= 20, 20_000, 'the first changes to land')
      expect(writerDone).toBe(false)
      first.child.kill('SIGKILL')
      expect((await first.done).signal).toBe('SIGKILL')

      const second = startSync(w.dir)
      await second.waitForStderr(/"phase":"stream"/)
      await writing
      const expected = await source.rows()
      await until(() => destination() === expected, 30_000, 'the destination to catch up with the source')

      second.child.kill('SIGTERM')
      const stopped = await second.done
      expect(stopped.code, stopped.all).toBe(0)
      expect(stopped.all).not.toMatch(STACK_FRAME)
      expect(jsonLines(stopped.stdout)[0]).toMatchObject({ id: 'items', status: 'succeeded', mode: 'realtime', failed: 0 })
      expect(destination()).toBe(expected)

      const status = jsonLines((await w.run(['status', '--json'])).stdout)[0]
      expect(status).toMatchObject({ id: 'items', lastRun: { status: 'succeeded' }, stream: { position: expect.any(String), lagSeconds: expect.any(Number) } })

      // Forgetting it drops its consumer at the source: nothing is kept for it any more.
      const forgotten = await w.run(['forget', 'items'])
      expect(forgotten.code, forgotten.all).toBe(0)
      expect(jsonLines((await w.run(['status', '--json'])).stdout)[0]).not.toHaveProperty('stream')
    }, 120_000)
  })
}
