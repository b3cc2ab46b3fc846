/**
 * Connecting: errors that say what is wrong and how to fix it, and never
 * show the password; `check` reports version and CDC readiness.
 */
import { describe, expect, it } from 'vitest'
import { createPostgresConnector } from '../../../src/connectors/postgres/connector.js'
import pg from 'pg'
import { classifyPgError, isConnectionBroken } from '../../../src/connectors/postgres/errors.js'
import { connectionString, endpointOf } from '../../../src/connectors/postgres/pool.js'
import { createConnector } from '../../../src/connectors/registry.js'
import { ConnectionError } from '../../../src/errors.js'
import { PG_URL, hasPostgres } from '../../helpers/services.js'
import { rejection, usePgFixture } from './fixture.js'

const SECRET = 's3cret-Pa55word'

/** Everything of an error a user or a log could see. */
function visible(error: Error & { details?: unknown }): string {
  return [error.message, String(error), error.stack, JSON.stringify(error.details), JSON.stringify(error)].join('\n')
}

describe('PostgreSQL connection settings', () => {
  it('a password given apart overrides the URL password', () => {
    const url = new URL(connectionString({ name: 'w', url: 'postgres://sync:old@db.example:5433/shop', password: 'new p@ss/word' }))
    expect(url.password).toBe('')
    expect(url.searchParams.get('password')).toBe('new p@ss/word')
    expect(url.searchParams.get('options')).toContain('TimeZone=UTC')
  })

  it('accepts postgresql:// and keeps options given in the URL, with the session settings last', () => {
    const url = new URL(connectionString({ name: 'w', url: 'postgresql://sync@db.example/shop?options=-c%20search_path%3Dx' }))
    expect(url.protocol).toBe('postgres:')
    expect(url.searchParams.get('options')).toBe('-c search_path=x -c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=3')
    expect(endpointOf('postgresql://sync@db.example/shop')).toMatchObject({ host: 'db.example', port: 5432, database: 'shop', label: 'db.example:5432/shop' })
  })
})

describe('PostgreSQL connection errors', () => {
  it('connection refused is a transient ConnectionError naming host:port, without the password', async () => {
    for (const config of [
      { name: 'warehouse', url: `postgres://sync:${SECRET}@127.0.0.1:1/shop` },
      { name: 'warehouse', url: 'postgres://sync@127.0.0.1:1/shop', password: SECRET },
    ]) {
      const connector = createPostgresConnector(config)
      try {
        const error = await rejection(connector.check())
        expect(error).toBeInstanceOf(ConnectionError)
        expect(error).toMatchObject({ code: 'CONNECTION_REFUSED', failure: 'transient' })
        expect(error.message).toContain('127.0.0.1:1')
        expect(error.message).toContain("'warehouse'")
        expect(visible(error)).not.toContain(SECRET)
        // Reading through the same connector fails the same way.
        const scan = await rejection(connector.count('anything'))
        expect(scan).toMatchObject({ code: 'CONNECTION_REFUSED' })
        expect(visible(scan)).not.toContain(SECRET)
      } finally {
        await connector.close()
      }
    }
  })

  it('a URL that is not PostgreSQL is a config error', async () => {
    expect(() => createPostgresConnector({ name: 'x', url: 'mysql://a@b/c' })).toThrow(/postgres:\/\//)
  })
})

describe.skipIf(!(await hasPostgres()))('PostgreSQL check', () => {
  const pg = usePgFixture()

  it('reports version, WAL settings and whether CDC could run, with the fix when not', async () => {
    const report = await pg.connector().check()
    expect(report).toMatchObject({ connection: 'warehouse', kind: 'postgres', capabilities: { cdc: true, transactions: true, bulkExport: true, bulkLoad: true, orderedKeyScan: true, staging: false } })
    expect(report.version).toMatch(/^PostgreSQL \d+/)
    const { wal_level, replication, max_replication_slots } = report.details
    expect(typeof wal_level).toBe('string')
    expect(report.cdc.ready).toBe(wal_level === 'logical' && replication === true && Number(max_replication_slots) > 0)
    if (!report.cdc.ready) expect(report.cdc.reason).toMatch(/wal_level|REPLICATION|max_replication_slots|max_wal_senders/)
    expect(typeof report.details.replication_slots_used).toBe('number')
    expect(typeof report.details.max_wal_senders).toBe('number')
    // The test server keeps WAL without limit: check advises a bound.
    if (report.details.max_slot_wal_keep_size === '-1') expect(report.details.advice).toMatch(/ALTER SYSTEM SET max_slot_wal_keep_size/)
  })

  it('never shows a password given in the URL', async () => {
    for (const place of ['userinfo', 'query']) {
      const url = new URL(pg.url())
      if (place === 'userinfo') url.password = SECRET
      else url.searchParams.set('password', SECRET)
      const connector = createPostgresConnector({ name: 'w', url: url.toString() })
      try {
        const report = await connector.check()
        expect(JSON.stringify(report)).not.toContain(SECRET)
        expect(visible(await rejection(connector.describe('no_such_table')))).not.toContain(SECRET)
      } finally {
        await connector.close()
      }
    }
  })

  it('reports a missing role as AUTH_FAILED and a missing database as a config error', async () => {
    const noRole = new URL(PG_URL)
    noRole.username = 'syncline_no_such_role'
    const byRole = await createConnector({ name: 'w', url: noRole.toString(), password: SECRET })
    const auth = await rejection(byRole.check())
    await byRole.close()
    expect(auth).toMatchObject({ code: 'AUTH_FAILED', failure: 'config' })
    expect(auth.message).toContain('syncline_no_such_role')
    expect(visible(auth)).not.toContain(SECRET)

    const noDb = new URL(pg.url())
    noDb.pathname = '/syncline_no_such_database'
    const byDb = await createConnector({ name: 'w', url: noDb.toString() })
    const missing = await rejection(byDb.check())
    await byDb.close()
    expect(missing).toMatchObject({ code: 'CONNECTION_REFUSED', failure: 'config' })
    expect(missing.message).toContain("'syncline_no_such_database' does not exist")
  })
})

describe.skipIf(!(await hasPostgres()))('PostgreSQL connection lost between two queries', () => {
  it('a query on a client whose backend the server terminated is CONNECTION_LOST (run again), not an unknown error', async () => {
    const client = new pg.Client({ connectionString: PG_URL })
    await client.connect()
    // The server's termination notice and the socket's end each raise 'error'.
    const broken = new Promise<void>((resolve) => client.on('error', () => resolve()))
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
    const admin = new pg.Client({ connectionString: PG_URL })
    await admin.connect()
    try {
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid])
    } finally {
      await admin.end()
    }
    await broken
    const error = await client.query('SELECT 1').then(() => undefined, (e: unknown) => e)
    await client.end().catch(() => undefined)
    expect(String(error)).toMatch(/not queryable/)
    expect(isConnectionBroken(error)).toBe(true)
    const classified = classifyPgError(error, { connection: 'dst', endpoint: endpointOf(PG_URL), entity: 'public.items' })
    expect(classified).toMatchObject({ code: 'CONNECTION_LOST', failure: 'transient' })
    expect(classified.message).toMatch(/Lost the connection to PostgreSQL at .*run again to continue/)
  })
})
