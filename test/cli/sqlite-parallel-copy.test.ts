/**
 * A first copy of a large SQLite table into PostgreSQL reads the table in
 * two threads (src/connectors/sqlite/parallel-export.ts), as a user runs
 * it: every row arrives exactly, from one snapshot; a value the destination
 * cannot hold in the worker's half still sends the run down the row path,
 * naming that record; a file another writer holds locked is read by one
 * thread; and a run stopped mid-copy writes nothing and exits.
 */
import Database from 'better-sqlite3'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createPgDatabase, pgQuery } from '../helpers/services.js'
import { BUILD_TIMEOUT_MS, ensureBuilt } from './build.js'
import { jsonLines, startCli } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

/** Past PARALLEL_MIN_ROWS (100,000, parallel-export.ts), so the copy splits. */
const ROWS = 150_000
const START = Date.UTC(2026, 0, 1)

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

/** items(id, name VARCHAR(12), amount DECIMAL(12,2), updated_at TIMESTAMP), `rows` rows; `longNameAt` gets a name past 12 characters. */
function fill(file: string, longNameAt?: number, rows = ROWS): void {
  const db = new Database(file)
  try {
    db.pragma('journal_mode = WAL')
    db.exec(`CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(12) NOT NULL, amount DECIMAL(12,2) NOT NULL, updated_at TIMESTAMP NOT NULL)`)
    const insert = db.prepare(`INSERT INTO items VALUES (?, ?, ?, ?)`)
    db.transaction(() => {
      for (let id = 1; id <= rows; id++) insert.run(id, id === longNameAt ? 'a name far too long' : `n${id}`, (id % 100_000) / 100, new Date(START + id * 1000).toISOString())
    })()
  } finally {
    db.close()
  }
}

/** A digest of the rows as PostgreSQL holds them, and the same computed from what was written to SQLite. */
async function digests(url: string, skip?: number) {
  const rows = await pgQuery<{ d: string }>(
    url,
    `SELECT md5(string_agg(id || '|' || name || '|' || amount::text || '|' || to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), ',' ORDER BY id)) AS d FROM items`,
  )
  const expected: string[] = []
  for (let id = 1; id <= ROWS; id++) if (id !== skip) expected.push(`${id}|n${id}|${((id % 100_000) / 100).toFixed(2)}|${new Date(START + id * 1000).toISOString()}`)
  return { actual: rows[0]!.d, expected: createHash('md5').update(expected.join(',')).digest('hex') }
}

describe('a large SQLite table copied into PostgreSQL by two readers', () => {
  let dst: Awaited<ReturnType<typeof createPgDatabase>>
  let ws: Workspace | undefined
  beforeAll(async () => {
    dst = await createPgDatabase('syncline_sqlite_split')
  })
  afterEach(async () => {
    ws?.remove()
    await pgQuery(dst.url, 'DROP TABLE IF EXISTS items')
  })
  afterAll(async () => dst?.drop())

  function plan(extra = ''): void {
    ws!.write('syncline.yaml', `connections:
  src: { url: "sqlite:./src.db" }
  dst: { url: "${dst.url}" }
syncs:
  - { id: items, source: { connection: src, entity: items }, destination: { connection: dst, entity: items, create: true }, mode: full${extra} }
`)
  }

  it('copies every row exactly, read by two threads', async () => {
    ws = workspace()
    fill(ws.path('src.db'))
    plan()
    const run = await ws.run(['run', '--json'])
    expect(run.code, run.all).toBe(0)
    expect(run.stderr).toMatch(/150000 rows copied in bulk \(postgres-copy-text, read by 2 threads\)/)
    expect(jsonLines(run.stdout)[0]).toMatchObject({ status: 'succeeded', created: ROWS, failed: 0 })
    const { actual, expected } = await digests(dst.url)
    expect(actual).toBe(expected)
  })

  it("names a record the destination cannot hold in the worker's half, and copies the rest row by row", async () => {
    ws = workspace()
    // The highest rowid is in the worker's half.
    fill(ws.path('src.db'), ROWS)
    plan(', maxErrors: 5')
    const run = await ws.run(['run', '--json'])
    expect(run.code, run.all).toBe(1)
    expect(jsonLines(run.stdout)[0]).toMatchObject({ status: 'partial', created: ROWS - 1, failed: 1 })
    const history = await ws.run(['history', 'items'])
    expect(history.stdout).toMatch(/150000[\s\S]*'name'[\s\S]*character varying\(12\)/)
    const { actual, expected } = await digests(dst.url, ROWS)
    expect(actual).toBe(expected)
  })

  it('reads in one thread while another writer holds the file, and copies every row', async () => {
    ws = workspace()
    fill(ws.path('src.db'))
    plan()
    const writer = new Database(ws.path('src.db'))
    try {
      writer.exec('BEGIN IMMEDIATE')
      writer.prepare(`UPDATE items SET name = 'uncommitted' WHERE id = 1`).run()
      const run = await ws.run(['run', '--json'])
      expect(run.code, run.all).toBe(0)
      expect(run.stderr).toMatch(/150000 rows copied in bulk \(postgres-copy-text\)/)
      expect(jsonLines(run.stdout)[0]).toMatchObject({ status: 'succeeded', created: ROWS, failed: 0 })
    } finally {
      writer.exec('ROLLBACK')
      writer.close()
    }
    const { actual, expected } = await digests(dst.url)
    expect(actual).toBe(expected)
  })

  it('takes both halves from one snapshot while another process commits to both', async () => {
    ws = workspace()
    fill(ws.path('src.db'))
    plan()
    // Each of the writer's transactions renames the first row (the main thread's half) and the last (the worker's) alike.
    const writer = spawn(process.execPath, ['--input-type=module', '-e', `
      import { createRequire } from 'node:module'
      const Database = createRequire(${JSON.stringify(import.meta.url)})('better-sqlite3')
      const db = new Database(${JSON.stringify(ws.path('src.db'))}, { timeout: 5000 })
      // No fsync a commit: hundreds of commits a second, so a gap between two snapshots would likely see one.
      db.pragma('synchronous = OFF')
      const rename = db.prepare('UPDATE items SET name = ? WHERE id = ?')
      const both = db.transaction((name) => { rename.run(name, 1); rename.run(name, ${ROWS}) })
      process.stdout.write('writing\\n')
      // A millisecond between commits leaves the export's lock a turn (a writer that never pauses starves
      // it, and the export then reads in one thread, which is right but not what this test looks at).
      const pause = new Int32Array(new SharedArrayBuffer(4))
      for (let k = 0; ; k++) {
        both('w' + k)
        Atomics.wait(pause, 0, 0, 1)
      }
    `], { stdio: ['ignore', 'pipe', 'inherit'] })
    try {
      await new Promise<void>((resolve) => writer.stdout!.once('data', () => resolve()))
      const run = await ws.run(['run', '--json'])
      expect(run.code, run.all).toBe(0)
      expect(run.stderr).toMatch(/read by 2 threads/)
    } finally {
      writer.kill('SIGKILL')
    }
    const ends = await pgQuery<{ id: string; name: string }>(dst.url, `SELECT id, name FROM items WHERE id IN (1, ${ROWS}) ORDER BY id`)
    expect(ends[0]!.name).toMatch(/^w\d+$/)
    expect(ends[1]!.name).toBe(ends[0]!.name)
    expect(Number((await pgQuery<{ n: string }>(dst.url, 'SELECT count(*) AS n FROM items'))[0]!.n)).toBe(ROWS)
  })

  it('stops on SIGTERM mid-copy: nothing written, the process exits', async () => {
    ws = workspace()
    // Large enough that the copy outlasts the one-second progress interval
    // and reports rows before it ends (500,000 rows once finished within it).
    fill(ws.path('src.db'), undefined, 1_500_000)
    plan()
    const running = startCli(['run'], { cwd: ws.dir })
    await running.waitForStderr(/rows copied in bulk \(\d/)
    running.child.kill('SIGTERM')
    const stopped = await running.done
    expect(stopped.code, stopped.all).toBe(130)
    expect(stopped.stdout).toMatch(/^items: cancelled/m)
    const count = await pgQuery<{ n: string }>(dst.url, 'SELECT count(*) AS n FROM items')
    expect(Number(count[0]!.n)).toBe(0)
  })
})
