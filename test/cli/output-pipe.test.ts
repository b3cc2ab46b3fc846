/**
 * Output into a closed pipe (`syncline status | head -1`) ends quietly, and
 * no command prints a stack trace unless asked with --debug (issue 6 #8).
 * Each case runs the built CLI behind a real shell pipe, with more output
 * than a pipe buffers, so the reader is gone before the command is done.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { openSqliteStateStore } from '../../src/state/sqlite-state-store.js'
import { BUILD_TIMEOUT_MS, CLI, ensureBuilt } from './build.js'
import { STACK_FRAME } from './cli.js'
import { workspace, type Workspace } from './workspace.js'

beforeAll(ensureBuilt, BUILD_TIMEOUT_MS)

let ws: Workspace
afterEach(() => ws?.remove())

/** `sh -c "syncline ARGS | head -1"`: what head printed, and syncline's stderr. */
function piped(args: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...env }
    delete childEnv.SYNCLINE_DEBUG
    // stderr of syncline alone goes to fd 3, so head's output stays apart; exit status is syncline's.
    const script = `{ "${process.execPath}" "${CLI}" ${args} 2>&3; echo $? > status; } | head -1`
    const child = spawn('sh', ['-c', script], { cwd: ws.dir, env: childEnv, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c))
    ;(child.stdio[3] as NodeJS.ReadableStream).setEncoding('utf8').on('data', (c: string) => (stderr += c))
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    child.on('error', reject)
    child.on('close', () => resolve({ code: Number(readFileSync(ws.path('status'), 'utf8').trim()), stdout, stderr }))
  })
}

function expectQuiet(result: { stderr: string }): void {
  expect(result.stderr).not.toMatch(STACK_FRAME)
  expect(result.stderr).not.toContain('EPIPE')
  expect(result.stderr).not.toContain("Unhandled 'error' event")
  expect(result.stderr).not.toMatch(/error:/)
}

const TABLES = 2000

function manyTables(): void {
  ws = workspace()
  const ddl = Array.from({ length: TABLES }, (_, i) => `CREATE TABLE items_${String(i).padStart(4, '0')} (id INTEGER PRIMARY KEY, name TEXT);`).join('\n')
  ws.sqlite('shop.db', ddl)
  ws.sqlite('backup.db', '')
  const syncs = Array.from({ length: TABLES }, (_, i) => {
    const t = `items_${String(i).padStart(4, '0')}`
    return `  - { id: s${i}, source: { connection: shop, entity: ${t} }, destination: { connection: backup, entity: ${t}, create: true } }`
  })
  ws.write('syncline.yaml', `connections:\n  shop: { url: sqlite:./shop.db }\n  backup: { url: sqlite:./backup.db }\nsyncs:\n${syncs.join('\n')}\n`)
}

describe('output into a closed pipe', () => {
  it('discover, status and history end quietly with their usual exit code', async () => {
    manyTables()
    // History with many runs, written as runs would write them.
    const state = openSqliteStateStore(ws.path('.syncline/state.db'))
    for (let i = 0; i < 3000; i++) {
      const run = { runId: `r${i}`, syncId: `s${i % TABLES}`, mode: 'full', status: 'succeeded' as const, dryRun: false, startedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), read: 1, created: 1, updated: 0, deleted: 0, unchanged: 0, failed: 0, conflicts: 0 }
      await state.startRun(run)
      await state.finishRun({ ...run, finishedAt: run.startedAt, durationMs: 5 })
    }
    await state.close()

    for (const args of ['discover shop', 'discover shop --json', 'status', 'status --json', 'history -n 3000', 'history --json -n 3000']) {
      const result = await piped(args)
      expect(result.stdout.split('\n').filter(Boolean), args).toHaveLength(1)
      expectQuiet(result)
      expect(result.code, `${args}: ${result.stderr}`).toBe(0)
    }
  }, 120_000)

  it('run | head -1 ends quietly with the usual exit code, after every sync ran and was recorded', async () => {
    ws = workspace()
    // A sync that fails with a long message (one issue per field) after one that succeeds.
    const columns = (type: string) => Array.from({ length: 1500 }, (_, i) => `c${i} ${type}`).join(', ')
    ws.sqlite('shop.db', `CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b');
      CREATE TABLE wide (id INTEGER PRIMARY KEY, ${columns('BLOB')});`)
    ws.sqlite('backup.db', `CREATE TABLE wide (id INTEGER PRIMARY KEY, ${columns('INTEGER')});`)
    ws.write('syncline.yaml', `connections:
  shop: { url: sqlite:./shop.db }
  backup: { url: sqlite:./backup.db }
syncs:
  - { id: a, source: { connection: shop, entity: t }, destination: { connection: backup, entity: t, create: true } }
  - { id: b, source: { connection: shop, entity: wide }, destination: { connection: backup, entity: wide } }
`)
    for (const args of ['run --json', 'run']) {
      const result = await piped(args)
      expect(result.stdout.split('\n').filter(Boolean), args).toHaveLength(1)
      expect(result.stdout).toMatch(/^\{"id":"a","status":"succeeded"|^a: succeeded/)
      expectQuiet(result)
      expect(result.code, result.stderr).toBe(2) // b failed for a config reason
    }
    expect(ws.sqliteRows('backup.db', 'SELECT count(*) AS n FROM t')).toEqual([{ n: 2 }])
    const history = await ws.run(['history', '--json'])
    expect(history.stdout.split('\n').filter((l) => l.includes('"kind":"run"'))).toHaveLength(4)
  })
})

describe('unexpected errors', () => {
  // A callback that fails outside any command: the way a bug in a driver or in syncline surfaces.
  const BUG = `data:text/javascript,${encodeURIComponent(
    "const t = setInterval(() => { if (process.listenerCount('unhandledRejection') > 0) { clearInterval(t); Promise.reject(new TypeError('boom from a callback')) } }, 1)",
  )}`

  it('print the message and how to see more, exit 1; --debug and SYNCLINE_DEBUG add the stack trace', async () => {
    ws = workspace()
    ws.sqlite('shop.db', 'CREATE TABLE t (id INTEGER PRIMARY KEY);')
    ws.write('syncline.yaml', 'connections:\n  shop: { url: sqlite:./shop.db }\n')
    const plain = await ws.run(['discover', 'shop'], { env: { NODE_OPTIONS: `--import=${BUG}` } })
    expect(plain.code).toBe(1)
    expect(plain.stderr).toContain('error: boom from a callback')
    expect(plain.stderr).toContain('--debug')
    expect(plain.stderr).not.toMatch(STACK_FRAME)

    const debug = await ws.run(['discover', 'shop', '--debug'], { env: { NODE_OPTIONS: `--import=${BUG}` } })
    expect(debug.code).toBe(1)
    expect(debug.stderr).toContain('error: boom from a callback')
    expect(debug.stderr).toMatch(STACK_FRAME)
    const env = await ws.run(['discover', 'shop'], { env: { NODE_OPTIONS: `--import=${BUG}`, SYNCLINE_DEBUG: '1' } })
    expect(env.stderr).toMatch(STACK_FRAME)
  })
})
