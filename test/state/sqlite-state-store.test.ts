/**
 * What the embedded SQLite state store promises beyond the shared behaviour:
 * where the file goes, sharing it between processes, and clear errors for a
 * location that cannot hold it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { ConnectionError, SynclineError } from '../../src/errors.js'
import { openStateStore, sqlitePath } from '../../src/state/open-state-store.js'
import { openSqliteStateStore, SqliteStateStore } from '../../src/state/sqlite-state-store.js'
import { SCHEMA_VERSION_TABLE, STATE_MIGRATIONS, STATE_SCHEMA_VERSION } from '../../src/state/state-schema.js'
import { tempDir } from '../helpers/services.js'

let dir: ReturnType<typeof tempDir>
beforeAll(() => {
  dir = tempDir('syncline-sqlite-state-')
})
afterAll(() => dir.remove())

describe('sqlite state location', () => {
  it('puts the default .syncline/state.db beside the plan file, creating the directory', async () => {
    const planDir = join(dir.path, 'project')
    mkdirSync(planDir)
    const store = await openStateStore('.syncline/state.db', { baseDir: planDir })
    try {
      expect(store).toBeInstanceOf(SqliteStateStore)
      expect((store as SqliteStateStore).path).toBe(join(planDir, '.syncline', 'state.db'))
      expect(existsSync(join(planDir, '.syncline', 'state.db'))).toBe(true)
    } finally {
      await store.close()
    }
  })

  it('accepts sqlite:PATH, absolute paths and :memory:', () => {
    expect(sqlitePath('sqlite:./state/s.db', '/plans')).toBe('/plans/state/s.db')
    expect(sqlitePath('sqlite:/var/lib/syncline/s.db', '/plans')).toBe('/var/lib/syncline/s.db')
    expect(sqlitePath('/var/lib/syncline/s.db', '/plans')).toBe('/var/lib/syncline/s.db')
    expect(sqlitePath(':memory:', '/plans')).toBe(':memory:')
  })

  it('keeps state in memory for :memory:', async () => {
    const store = await openStateStore('sqlite::memory:', { baseDir: dir.path })
    try {
      await store.setWatermark('orders', { cursor: 1n })
      expect(await store.getWatermark('orders')).toEqual({ cursor: 1n })
    } finally {
      await store.close()
    }
  })

  it('uses WAL mode so readers never wait for the writer', async () => {
    const path = join(dir.path, 'wal', 'state.db')
    const store = await openStateStore(path, { baseDir: '/' })
    const raw = new Database(path, { readonly: true })
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal')
    } finally {
      raw.close()
      await store.close()
    }
  })
})

describe('sqlite state upgrades', () => {
  it('upgrades a version 1 state file in place, keeping its runs', async () => {
    const path = join(dir.path, 'v1', 'state.db')
    mkdirSync(join(dir.path, 'v1'))
    const raw = new Database(path)
    raw.exec('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)')
    for (const statement of STATE_MIGRATIONS[0]!.sqlite) raw.exec(statement)
    raw.exec(`INSERT INTO schema_version VALUES (1, 'v1', '2026-01-01T00:00:00Z');
      INSERT INTO runs (run_id, sync_id, mode, status, dry_run, started_at, read, created, updated, deleted, unchanged, failed, conflicts)
      VALUES ('old', 'items', 'incremental', 'succeeded', 0, '2026-01-01T00:00:00Z', 5, 5, 0, 0, 0, 0, 0)`)
    raw.close()

    const store = openSqliteStateStore(path)
    try {
      expect(await store.listRuns()).toEqual([expect.objectContaining({ runId: 'old', created: 5 })])
      expect((await store.listRuns())[0]).not.toHaveProperty('notes')
      expect(await store.getSyncFacts('items')).toBeUndefined()
      await store.finishRun({ ...(await store.listRuns())[0]!, notes: ['refilled'] })
      expect((await store.listRuns())[0]?.notes).toEqual(['refilled'])
    } finally {
      await store.close()
    }
    const check = new Database(path, { readonly: true })
    try {
      expect(check.prepare('SELECT max(version) AS v FROM schema_version').get()).toEqual({ v: STATE_SCHEMA_VERSION })
    } finally {
      check.close()
    }
  })
})

describe('sqlite state shared between processes', () => {
  it('two stores on the same file see each other\u2019s writes', async () => {
    const path = join(dir.path, 'shared', 'state.db')
    const [run, status] = await Promise.all([openStateStore(path, { baseDir: '/' }), openStateStore(path, { baseDir: '/' })])
    try {
      await run.setWatermark('orders', { cursor: 2n ** 63n - 1n, key: [new Uint8Array([0, 0])] })
      expect(await status.getWatermark('orders')).toEqual({ cursor: 2n ** 63n - 1n, key: [new Uint8Array([0, 0])] })
      await status.forgetSync('orders')
      expect(await run.getWatermark('orders')).toBeUndefined()
      await run.startRun({
        runId: 'r1',
        syncId: 'orders',
        mode: 'full',
        status: 'running',
        dryRun: false,
        startedAt: new Date().toISOString(),
        read: 0,
        created: 0,
        updated: 0,
        deleted: 0,
        unchanged: 0,
        failed: 0,
        conflicts: 0,
      })
      expect((await status.listSyncStates()).map((s) => s.lastRun?.status)).toEqual(['running'])
    } finally {
      await run.close()
      await status.close()
    }
  })

  it('waits for another process holding the write lock instead of failing', async () => {
    const path = join(dir.path, 'locked', 'state.db')
    const store = await openStateStore(path, { baseDir: '/' })
    // Another process takes the write lock and keeps it for 700 ms.
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const D = require('better-sqlite3'); const db = new D(${JSON.stringify(path)});
         db.exec('BEGIN IMMEDIATE'); db.prepare("INSERT INTO watermarks VALUES ('other', '1', NULL, 'now')").run();
         process.stdout.write('locked\\n'); setTimeout(() => { db.exec('COMMIT'); db.close() }, 700)`,
      ],
      { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] },
    )
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve())
        holder.on('exit', (code) => reject(new Error(`lock holder exited early with ${code}`)))
      })
      const started = Date.now()
      await store.setWatermark('orders', { cursor: 5 })
      expect(Date.now() - started).toBeGreaterThan(300)
      expect(await store.getWatermark('orders')).toEqual({ cursor: 5 })
      expect(await store.getWatermark('other')).toEqual({ cursor: 1 })
    } finally {
      holder.kill()
      await store.close()
    }
  })

  it('releases the file on close: the WAL is checkpointed and removed', async () => {
    const path = join(dir.path, 'released', 'state.db')
    const first = await openStateStore(path, { baseDir: '/' })
    const second = await openStateStore(path, { baseDir: '/' })
    await first.setWatermark('orders', { cursor: 'x' })
    expect(existsSync(`${path}-wal`)).toBe(true)
    await first.close()
    await second.close()
    expect(existsSync(`${path}-wal`)).toBe(false)
    expect(existsSync(`${path}-shm`)).toBe(false)
    // Everything was written to the main file.
    const raw = new Database(path, { readonly: true })
    try {
      expect(raw.prepare('SELECT cursor_value FROM watermarks').pluck().all()).toEqual(['"x"'])
    } finally {
      raw.close()
    }
  })
})

describe('sqlite state upgrades', () => {
  it('adds the run locks to a state file an older syncline made (schema version 1), keeping its history', async () => {
    const path = join(dir.path, 'old', 'state.db')
    mkdirSync(join(dir.path, 'old'))
    const old = new Database(path)
    old.exec(SCHEMA_VERSION_TABLE.sqlite)
    for (const statement of STATE_MIGRATIONS[0]!.sqlite) old.exec(statement)
    old.prepare("INSERT INTO schema_version VALUES (1, 'watermarks, runs, record errors', '2026-01-01T00:00:00.000Z')").run()
    old.prepare("INSERT INTO watermarks VALUES ('orders', '5', NULL, '2026-01-01T00:00:00.000Z')").run()
    old.close()

    const store = await openStateStore(path, { baseDir: '/' })
    try {
      expect(await store.getWatermark('orders')).toEqual({ cursor: 5 })
      const lock = { syncId: 'orders', runId: 'r1', pid: 1, host: 'h', acquiredAt: 'a', heartbeatAt: 'a' }
      expect(await store.claimRunLock(lock)).toBe(true)
      expect(await store.getRunLock('orders')).toEqual(lock)
    } finally {
      await store.close()
    }
    const raw = new Database(path, { readonly: true })
    try {
      expect(raw.prepare('SELECT version FROM schema_version ORDER BY version').pluck().all()).toEqual(STATE_MIGRATIONS.map((m) => m.version))
    } finally {
      raw.close()
    }
  })
})

describe('sqlite state errors', () => {
  it('names the path and the fix when the directory cannot be created', async () => {
    const blocker = join(dir.path, 'a-file')
    writeFileSync(blocker, 'not a directory')
    const error = await openStateStore('a-file/state.db', { baseDir: dir.path }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectionError)
    expect(error).toMatchObject({ code: 'CONNECTION_REFUSED', failure: 'config' })
    expect((error as Error).message).toContain(join(blocker, 'state.db'))
    expect((error as Error).message).toContain("set 'state:'")
  })

  it('refuses a file that is not a SQLite database without touching it', async () => {
    const path = join(dir.path, 'notes.txt')
    writeFileSync(path, 'x'.repeat(4096))
    const error = await openStateStore(path, { baseDir: '/' }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'CONNECTION_REFUSED', failure: 'config' })
    expect((error as Error).message).toContain(path)
    expect((error as Error).message).toMatch(/not a usable SQLite file/)
  })

  it('rejects a URL scheme that cannot hold state, redacting its password', async () => {
    const error = await openStateStore('mysql://sync:hunter2@db/state', { baseDir: dir.path }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SynclineError)
    expect(error).toMatchObject({ code: 'PLAN_INVALID', failure: 'config' })
    expect((error as Error).message).not.toContain('hunter2')
    expect((error as Error).message).toContain('postgres://')
  })
})
