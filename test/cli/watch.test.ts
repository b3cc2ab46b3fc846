/**
 * `syncline watch` as a user runs it: a child process whose "watching"
 * line on stderr means capture is active (a change committed after it is
 * printed), human lines and NDJSON on stdout, Ctrl-C or SIGTERM ending it
 * with exit 0 and the position to resume from, `--since` resuming exactly
 * there, and a reader that goes away (`| head -n 1`) ending it quietly.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createPgDatabase, hasPostgres, pgQuery } from '../helpers/services.js'
import { BUILD_TIMEOUT_MS, CLI, ensureBuilt } from './build.js'
import { jsonLines, startCli, STACK_FRAME, type RunningCli } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)
const pgAvailable = await hasPostgres()

let ws: Workspace
const running: RunningCli[] = []
afterEach(async () => {
  for (const r of running.splice(0)) {
    r.child.kill('SIGKILL')
    await r.done
  }
  ws?.remove()
})

const READY = /watching shop items\n/
const RESUME = /resume with: syncline watch shop items --since (\S+)/

function shop(): void {
  ws = workspace('syncline-watch-cli-')
  ws.sqlite('shop.db', 'PRAGMA journal_mode = WAL; CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, big INTEGER, data BLOB)')
  ws.write('syncline.yaml', 'connections:\n  shop: { url: sqlite:./shop.db }\n')
}

function watch(args: string[] = [], env: Record<string, string> = {}): RunningCli {
  const r = startCli(['watch', 'shop', 'items', ...args], { cwd: ws.dir, env })
  running.push(r)
  return r
}

async function stdoutLines(r: RunningCli, count: number, timeoutMs = 10_000): Promise<string[]> {
  const started = Date.now()
  for (;;) {
    const lines = r.stdout.split('\n').filter(Boolean)
    if (lines.length >= count) return lines
    if (Date.now() - started > timeoutMs) throw new Error(`stdout has ${lines.length} of ${count} lines:\n${r.stdout}\nstderr:\n${r.stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Run `body` with a new PostgreSQL database (made with `ddl`) as connection `pg` of a new workspace; then drop it. */
async function withPostgres(ddl: string, body: (db: { url: string }) => Promise<void>): Promise<void> {
  const db = await createPgDatabase('syncline_watch_cli')
  try {
    await pgQuery(db.url, ddl)
    ws = workspace('syncline-watch-cli-')
    ws.write('syncline.yaml', `connections:\n  pg: { url: "${db.url}" }\n`)
    await body(db)
  } finally {
    for (const r of running.splice(0)) {
      r.child.kill('SIGKILL')
      await r.done
    }
    // The ended process's slot stays active for a moment, and DROP DATABASE refuses it then.
    for (let waited = 0; waited < 10_000; waited += 50) {
      if ((await pgQuery(db.url, 'SELECT 1 FROM pg_replication_slots WHERE database = current_database() AND active')).length === 0) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await db.drop()
  }
}

async function ended(r: RunningCli) {
  const result = await r.done
  running.splice(running.indexOf(r), 1)
  return result
}

describe('syncline watch', () => {
  it('prints a change made after the ready line, stops on Ctrl-C with exit 0, and --since resumes exactly after it', async () => {
    shop()
    const first = watch()
    await first.waitForStderr(READY)
    expect(first.stdout).toBe('')
    ws.sqlite('shop.db', `INSERT INTO items VALUES (1, 'first', 9007199254740993, X'00ff')`)
    ws.sqlite('shop.db', `UPDATE items SET name = 'renamed' WHERE id = 1`)
    const lines = await stdoutLines(first, 2)
    expect(lines[0]).toMatch(/^\S+Z create 1 id=1 name="first" big="9007199254740993" data="AP8=" position watch_[0-9a-f]{8}\.\S+$/)
    expect(lines[1]).toMatch(/^\S+Z update 1 name="renamed" position watch_[0-9a-f]{8}\.\S+$/)
    const consumer = lines[1]!.split(' position ')[1]!.split('.')[0]!

    first.child.kill('SIGINT')
    const result = await ended(first)
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).not.toMatch(STACK_FRAME)
    const lastPosition = result.stderr.match(RESUME)?.[1]
    expect(lastPosition?.startsWith(`${consumer}.`)).toBe(true)

    // Changes while stopped, then a resume with --json.
    ws.sqlite('shop.db', `DELETE FROM items WHERE id = 1`)
    ws.sqlite('shop.db', `INSERT INTO items VALUES (2, 'second', NULL, NULL)`)
    const second = watch(['--since', lastPosition!, '--json'])
    await second.waitForStderr(READY)
    ws.sqlite('shop.db', `UPDATE items SET big = -9007199254740993 WHERE id = 2`)
    const events = jsonLines((await stdoutLines(second, 3)).join('\n'))
    expect(events.map((e) => `${e.type} ${e.recordId}`)).toEqual(['delete 1', 'create 2', 'update 2'])
    expect(events[0]).toMatchObject({ connection: 'shop', entity: 'items', key: { id: 1 }, changes: {}, before: { id: 1, name: 'renamed', big: '9007199254740993', data: 'AP8=' } })
    expect(events[0]).not.toHaveProperty('record')
    expect(events[1]).toMatchObject({ record: { id: 2, name: 'second', big: null, data: null } })
    expect(events[2]).toMatchObject({ changes: { big: '-9007199254740993' }, record: { id: 2, name: 'second', big: '-9007199254740993', data: null } })
    for (const e of events) expect(String(e.position).startsWith(`${consumer}.`)).toBe(true)

    second.child.kill('SIGTERM')
    const stopped = await ended(second)
    expect(stopped.code, stopped.stderr).toBe(0)
    expect(stopped.stderr.match(RESUME)?.[1]?.startsWith(`${consumer}.`)).toBe(true)
  })

  it('syncline check lists the stopped watch as released, and drops it after the retention', async () => {
    shop()
    const w = watch()
    await w.waitForStderr(READY)
    w.child.kill('SIGINT')
    const stopped = await ended(w)
    const consumer = stopped.stderr.match(RESUME)![1]!.split('.')[0]!

    const kept = await ws.run(['check', 'shop'])
    expect(kept.code, kept.stderr).toBe(0)
    expect(kept.stdout).toMatch(new RegExp(`\\n    ${consumer} \\(items\\): inactive, .*released watch \\(ended \\S+Z, dropped after \\S+Z\\)`))
    const json = jsonLines((await ws.run(['check', 'shop', '--json'])).stdout)[0]!
    expect(json.changeFeeds).toEqual([expect.objectContaining({ consumer, active: false, watch: { releasedAt: expect.any(String), dropsAfter: expect.any(String) } })])

    const dropped = await ws.run(['check', 'shop'], { env: { SYNCLINE_WATCH_RETENTION: '0' } })
    expect(dropped.code, dropped.stderr).toBe(0)
    expect(dropped.stdout).toContain(`dropped ${consumer}: its watch ended longer ago than the retention`)
    expect(dropped.stdout).toContain('change feeds: none')

    const lost = await ws.run(['watch', 'shop', 'items', '--since', stopped.stderr.match(RESUME)![1]!])
    expect(lost.code).toBe(2)
    expect(lost.stderr).toMatch(new RegExp(`Cannot resume watch consumer ${consumer}.*Start afresh without --since`))
  })

  it('ends quietly with exit 0 when its reader goes away (| head -n 1)', async () => {
    shop()
    const script = `{ "${process.execPath}" "${CLI}" watch shop items 2>&3; echo $? > status; } | head -n 1`
    const child = spawn('sh', ['-c', script], { cwd: ws.dir, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c))
    ;(child.stdio[3] as NodeJS.ReadableStream).setEncoding('utf8').on('data', (c: string) => (stderr += c))
    const closed = new Promise<void>((resolve) => child.on('close', () => resolve()))
    try {
      for (let waited = 0; !READY.test(stderr); waited += 20) {
        if (waited > 20_000) throw new Error(`no ready line: ${stderr}`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      // head exits after the first line; the next event written after that finds the pipe closed
      // (lines written before head is gone only fill the pipe), so keep changing until syncline ends.
      let ended = false
      void closed.then(() => (ended = true))
      for (let id = 1; !ended; id++) {
        if (id > 100) throw new Error(`syncline did not end after ${id} changes: ${stderr}`)
        ws.sqlite('shop.db', `INSERT INTO items (id, name) VALUES (${id}, 'n')`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    } finally {
      child.kill('SIGKILL')
    }
    expect(stdout.split('\n').filter(Boolean)).toHaveLength(1)
    expect(stdout).toMatch(/ create 1 /)
    expect(Number(readFileSync(ws.path('status'), 'utf8').trim()), stderr).toBe(0)
    expect(stderr).not.toMatch(STACK_FRAME)
    expect(stderr).not.toContain('EPIPE')
    expect(stderr).not.toMatch(/error:/)
  })

  it('refuses a source without change capture (exit 2) and a bad position (exit 2); an unreachable server exits 1', async () => {
    ws = workspace('syncline-watch-cli-')
    ws.write('items.csv', 'id,name\n1,a\n')
    ws.write('syncline.yaml', 'connections:\n  files: { url: "csv:." }\n  gone: { url: "postgres://nobody@127.0.0.1:1/none" }\n  shop: { url: sqlite:./shop.db }\n')
    ws.sqlite('shop.db', 'CREATE TABLE items (id INTEGER PRIMARY KEY)')

    const csv = await ws.run(['watch', 'files', 'items'])
    expect(csv.code).toBe(2)
    expect(csv.stderr).toMatch(/Connection 'files' \(csv\) cannot be watched: it has no change capture/)
    expect(csv.stderr).not.toMatch(/watching/)

    const bad = await ws.run(['watch', 'shop', 'items', '--since', 'nonsense'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/'nonsense' is not a position a watch handed out/)

    const gone = await ws.run(['watch', 'gone', 'items'])
    expect(gone.code, gone.stderr).toBe(1)
    expect(gone.stderr).not.toMatch(STACK_FRAME)
  })

  it.skipIf(!pgAvailable)('--since the last printed event resumes after a SIGKILL, though writes to another table moved the slot past it', async () => {
    await withPostgres('CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL); CREATE TABLE other (id serial PRIMARY KEY)', async (db) => {
      const first = startCli(['watch', 'pg', 'items', '--json'], { cwd: ws.dir })
      running.push(first)
      await first.waitForStderr(/watching pg items\n/)
      for (let id = 1; id <= 2; id++) await pgQuery(db.url, `INSERT INTO items VALUES (${id}, 'n${id}')`)
      const printed = jsonLines((await stdoutLines(first, 2)).join('\n'))
      const last = String(printed[1]!.position)
      const [consumer, encoded] = last.split('.')
      const lastLsn = Buffer.from(encoded!, 'base64url').toString('utf8').split(':')[0]!

      // A busy server: the watch acknowledges position-only moves until the slot is past the last event printed.
      for (let waited = 0; ; waited += 100) {
        if (waited > 30_000) throw new Error(`the slot's confirmed position did not move past the last event (${lastLsn}):\n${first.stderr}`)
        await pgQuery(db.url, 'INSERT INTO other DEFAULT VALUES')
        const [slot] = await pgQuery<{ ahead: boolean }>(db.url, 'SELECT confirmed_flush_lsn > $1::pg_lsn AS ahead FROM pg_replication_slots WHERE slot_name = $2', [lastLsn, `syncline_${consumer}`])
        if (slot?.ahead) break
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      // Killed: no "resume with" line, only the positions printed.
      first.child.kill('SIGKILL')
      await ended(first)
      for (let id = 3; id <= 4; id++) await pgQuery(db.url, `INSERT INTO items VALUES (${id}, 'n${id}')`)

      const second = startCli(['watch', 'pg', 'items', '--since', last, '--json'], { cwd: ws.dir })
      running.push(second)
      await second.waitForStderr(/watching pg items\n/)
      await pgQuery(db.url, `INSERT INTO items VALUES (5, 'n5')`)
      const events = jsonLines((await stdoutLines(second, 3)).join('\n'))
      expect(events.map((e) => `${e.type} ${e.recordId}`)).toEqual(['create 3', 'create 4', 'create 5'])
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(second.stdout.split('\n').filter(Boolean)).toHaveLength(3)
      for (const e of events) expect(String(e.position).startsWith(`${consumer}.`)).toBe(true)
      second.child.kill('SIGINT')
      const stopped = await ended(second)
      expect(stopped.code, stopped.stderr).toBe(0)
    })
  })

  it.skipIf(!pgAvailable)('--json renders PostgreSQL values exactly: decimals and bigints as digit strings, bytes as base64, timestamps with microseconds', async () => {
    await withPostgres('CREATE TABLE prices (id bigint PRIMARY KEY, amount numeric(30,10), raw bytea, at timestamptz)', async (db) => {
      const w = startCli(['watch', 'pg', 'prices', '--json'], { cwd: ws.dir })
      running.push(w)
      await w.waitForStderr(/watching pg prices\n/)
      await pgQuery(db.url, `INSERT INTO prices VALUES (9223372036854775807, 12345678901234567890.0123456789, '\\x00ff10', '2026-11-21 10:00:00.123456+00')`)
      const [event] = jsonLines((await stdoutLines(w, 1)).join('\n'))
      expect(event).toMatchObject({
        type: 'create', connection: 'pg', entity: 'prices', recordId: '9223372036854775807', key: { id: '9223372036854775807' },
        record: { id: '9223372036854775807', amount: '12345678901234567890.0123456789', raw: 'AP8Q', at: '2026-11-21T10:00:00.123456Z' },
      })
      expect(event!.committedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
      w.child.kill('SIGINT')
      expect((await ended(w)).code).toBe(0)
    })
  })
})
