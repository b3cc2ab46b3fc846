/**
 * What the PostgreSQL state store promises beyond the shared behaviour: its
 * own schema, safe concurrent first opens, a pool that is really released,
 * and errors that never show a password.
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { classifyPgError } from '../../src/connectors/postgres/errors.js'
import { endpointOf } from '../../src/connectors/postgres/pool.js'
import { openStateStore } from '../../src/state/open-state-store.js'
import { operationError } from '../../src/state/postgres-state-errors.js'
import { openPostgresStateStore, PostgresStateStore } from '../../src/state/postgres-state-store.js'
import { SCHEMA_VERSION_TABLE, STATE_MIGRATIONS } from '../../src/state/state-schema.js'
import { createPgDatabase, hasPostgres, PG_URL, pgQuery } from '../helpers/services.js'

const pgAvailable = await hasPostgres()

describe.skipIf(!pgAvailable)('postgres state store', () => {
  let db: Awaited<ReturnType<typeof createPgDatabase>>
  beforeAll(async () => {
    db = await createPgDatabase('syncline_pgstate')
  })
  afterAll(() => db?.drop())

  it('creates its tables in the syncline schema, once, even when opened by several processes at the same time', async () => {
    const stores = await Promise.all([1, 2, 3].map(() => openStateStore(db.url, { baseDir: '/' })))
    try {
      expect(stores[0]).toBeInstanceOf(PostgresStateStore)
      const tables = await pgQuery<{ table_name: string }>(
        db.url,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'syncline' ORDER BY table_name",
      )
      expect(tables.map((t) => t.table_name)).toEqual(['conflicts', 'feed_positions', 'record_errors', 'run_locks', 'runs', 'schema_version', 'sync_facts', 'two_way_base', 'two_way_watermarks', 'watch_consumers', 'watermarks'])
      const versions = await pgQuery<{ version: number }>(db.url, 'SELECT version FROM syncline.schema_version ORDER BY version')
      expect(versions.map((v) => v.version)).toEqual(STATE_MIGRATIONS.map((m) => m.version))

      await stores[0]!.setWatermark('orders', { cursor: 2n ** 63n - 1n })
      expect(await stores[2]!.getWatermark('orders')).toEqual({ cursor: 2n ** 63n - 1n })
    } finally {
      await Promise.all(stores.map((s) => s.close()))
    }
  })

  it('upgrades a version 1 schema in place, keeping its runs', async () => {
    const schema = 'state_v1_notes'
    await pgQuery(db.url, `CREATE SCHEMA ${schema}`)
    await pgQuery(db.url, `CREATE TABLE ${schema}.schema_version (version integer PRIMARY KEY, description text NOT NULL, applied_at text NOT NULL)`)
    for (const statement of STATE_MIGRATIONS[0]!.postgres(schema)) await pgQuery(db.url, statement)
    await pgQuery(db.url, `INSERT INTO ${schema}.schema_version VALUES (1, 'v1', '2026-01-01T00:00:00Z')`)
    await pgQuery(
      db.url,
      `INSERT INTO ${schema}.runs (run_id, sync_id, mode, status, dry_run, started_at, read, created, updated, deleted, unchanged, failed, conflicts)
       VALUES ('old', 'items', 'incremental', 'succeeded', false, '2026-01-01T00:00:00Z', 5, 5, 0, 0, 0, 0, 0)`,
    )
    const store = await openPostgresStateStore(db.url, { schema })
    try {
      expect(await store.listRuns()).toEqual([expect.objectContaining({ runId: 'old', created: 5 })])
      await store.finishRun({ ...(await store.listRuns())[0]!, notes: ['refilled'] })
      expect((await store.listRuns())[0]?.notes).toEqual(['refilled'])
      const versions = await pgQuery<{ version: number }>(db.url, `SELECT version FROM ${schema}.schema_version ORDER BY version`)
      expect(versions.map((v) => v.version)).toEqual(STATE_MIGRATIONS.map((m) => m.version))
    } finally {
      await store.close()
    }
  })

  it('adds the run locks to a state schema an older syncline made (schema version 1), keeping its history', async () => {
    const schema = '"state_v1"'
    await pgQuery(db.url, `CREATE SCHEMA ${schema}`)
    await pgQuery(db.url, SCHEMA_VERSION_TABLE.postgres(schema))
    for (const statement of STATE_MIGRATIONS[0]!.postgres(schema)) await pgQuery(db.url, statement)
    await pgQuery(db.url, `INSERT INTO ${schema}.schema_version VALUES (1, 'watermarks, runs, record errors', '2026-01-01T00:00:00.000Z')`)
    await pgQuery(db.url, `INSERT INTO ${schema}.watermarks VALUES ('orders', '5', NULL, '2026-01-01T00:00:00.000Z')`)

    const store = await openPostgresStateStore(db.url, { schema: 'state_v1' })
    try {
      expect(await store.getWatermark('orders')).toEqual({ cursor: 5 })
      const lock = { syncId: 'orders', runId: 'r1', pid: 1, host: 'h', acquiredAt: 'a', heartbeatAt: 'a' }
      expect(await store.claimRunLock(lock)).toBe(true)
      expect(await store.getRunLock('orders')).toEqual(lock)
    } finally {
      await store.close()
    }
    const versions = await pgQuery<{ version: number }>(db.url, `SELECT version FROM ${schema}.schema_version ORDER BY version`)
    expect(versions.map((v) => v.version)).toEqual(STATE_MIGRATIONS.map((m) => m.version))
  })

  it('accepts postgresql:// and a password given apart from the URL', async () => {
    const url = db.url.replace(/^postgres:/, 'postgresql:')
    const store = await openStateStore(url, { baseDir: '/', password: 'p@ss:w/rd%' })
    try {
      await store.setWatermark('orders', { cursor: 'x' })
      expect(await store.getWatermark('orders')).toEqual({ cursor: 'x' })
    } finally {
      await store.close()
    }
  })

  it('releases every connection on close', async () => {
    const store = await openStateStore(db.url, { baseDir: '/' })
    await Promise.all([store.listRuns(), store.listSyncStates(), store.getWatermark('a')])
    const count = async () =>
      Number(
        (
          await pgQuery<{ n: string }>(
            db.url,
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'syncline-state'",
            [db.name],
          )
        )[0]!.n,
      )
    expect(await count()).toBeGreaterThan(0)
    await store.close()
    // A backend can take a moment to leave pg_stat_activity after its client hung up.
    for (let i = 0; i < 50 && (await count()) > 0; i++) await new Promise((r) => setTimeout(r, 50))
    expect(await count()).toBe(0)
  })

  it('reports an unreachable server as transient, naming the URL without its password', async () => {
    const error = await openStateStore('postgres://sync:hunter2-secret@127.0.0.1:1/state', { baseDir: '/' }).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'ConnectionError', code: 'CONNECTION_REFUSED', failure: 'transient' })
    const message = (error as Error).message
    expect(message).toContain('postgres://sync:***@127.0.0.1:1/state')
    expect(message).not.toContain('hunter2')
    expect(JSON.stringify((error as { details?: unknown }).details)).not.toContain('hunter2')
  })

  it('redacts a password holding an unescaped @ completely', async () => {
    const error = await openStateStore('postgres://sync:hunter2@secret@127.0.0.1:1/state', { baseDir: '/' }).catch((e: unknown) => e)
    expect((error as Error).message).toContain('postgres://sync:***@127.0.0.1:1/state')
    expect((error as Error).message).not.toMatch(/hunter2|secret/)
  })

  it('never shows a password given apart from the URL', async () => {
    const error = await openStateStore('postgres://sync@127.0.0.1:1/state', { baseDir: '/', password: 'hunter2-secret' }).catch(
      (e: unknown) => e,
    )
    expect(error).toMatchObject({ code: 'CONNECTION_REFUSED', failure: 'transient' })
    expect((error as Error).message).not.toContain('hunter2')
  })

  it('reports a missing database as a config problem with the fix', async () => {
    const url = new URL(db.url)
    url.pathname = '/syncline_no_such_database'
    url.password = 'hunter2-secret'
    const error = await openStateStore(url.toString(), { baseDir: '/' }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'CONNECTION_REFUSED', failure: 'config' })
    expect((error as Error).message).toMatch(/syncline_no_such_database does not exist.*Create it/)
    expect((error as Error).message).not.toContain('hunter2')
  })
})

describe.skipIf(!pgAvailable)('postgres state store errors, read as the postgres connector reads them', () => {
  it('a query on a connection the server terminated is CONNECTION_LOST (retry), as in the connector, not an internal error', async () => {
    const url = PG_URL
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    // The server's termination notice and the socket's end each raise 'error'.
    const broken = new Promise<void>((resolve) => client.on('error', () => resolve()))
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
    await pgQuery(url, 'SELECT pg_terminate_backend($1)', [rows[0]!.pid])
    await broken
    const error = await client.query('SELECT 1').then(
      () => undefined,
      (e: unknown) => e,
    )
    await client.end().catch(() => undefined)
    const connectorSays = classifyPgError(error, { connection: 'state', endpoint: endpointOf(url) })
    const stateSays = operationError('postgres://sync:***@db/state', 'hunter2', error)
    expect(connectorSays).toMatchObject({ code: 'CONNECTION_LOST', failure: 'transient' })
    expect(stateSays).toMatchObject({ code: connectorSays.code, failure: connectorSays.failure })
    expect((stateSays as Error).message).toMatch(/Lost the PostgreSQL state database postgres:\/\/sync:\*\*\*@db\/state .*retry/)
  })
})
