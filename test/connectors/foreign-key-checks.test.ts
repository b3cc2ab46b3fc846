/**
 * `apply` with `foreignKeyChecks: 'off'` (the connector contract): the batch
 * lands although its rows reference rows not there yet, only syncline's own
 * writing session goes unchecked, and the pooled connection is checked again
 * for the next write; `findOrphans` then lists the rows that point nowhere.
 * PostgreSQL without the right to set session_replication_role says how to
 * get it.
 */
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Connector } from '../../src/connectors/connector.js'
import { createMysqlConnector } from '../../src/connectors/mysql/connector.js'
import { createPostgresConnector } from '../../src/connectors/postgres/connector.js'
import { createSqliteConnector } from '../../src/connectors/sqlite/connector.js'
import { RecordError, SynclineError } from '../../src/errors.js'
import { pgQuery } from '../helpers/services.js'
import { openDatasource, type DatasourceKind, type TestDatasource } from '../engine/datasources.js'

/** One connection in the pool, so the write after the unchecked one surely reuses its session. */
function connectorOf(ds: TestDatasource, url = ds.url): Connector {
  const config = { name: 'dst', url }
  if (ds.kind === 'postgres') return createPostgresConnector(config, { max: 1 })
  if (ds.kind === 'mysql') return createMysqlConnector(config, { max: 1 })
  return createSqliteConnector(config)
}

const kinds: DatasourceKind[] = ['postgres', 'mysql', 'sqlite']

for (const kind of kinds) {
  describe(`${kind}: foreign key checks off for one apply`, () => {
    let ds: TestDatasource
    let connector: Connector
    beforeAll(async () => {
      ds = await openDatasource(kind, 'fk')
      const id = kind === 'sqlite' ? 'INTEGER' : 'BIGINT'
      await ds.exec(`CREATE TABLE parents (id ${id} PRIMARY KEY)`)
      await ds.exec(`CREATE TABLE children (id ${id} PRIMARY KEY, parent_id ${id} REFERENCES parents (id))`)
      connector = connectorOf(ds)
    })
    afterAll(async () => {
      await connector?.close()
      await ds?.cleanup()
    })

    const children = kind === 'postgres' ? 'public.children' : 'children'

    it('lands rows whose parents are missing, then checks the next write again', async () => {
      const info = await connector.describe('children')
      await connector.apply('children', { upserts: [{ id: 1, parent_id: 10 }, { id: 2, parent_id: null }, { id: 3, parent_id: 11 }], deletes: [] }, { keys: ['id'], foreignKeyChecks: 'off' })
      const error = await connector.apply('children', { upserts: [{ id: 4, parent_id: 12 }], deletes: [] }, { keys: ['id'] }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(RecordError)
      expect(String((error as Error).message)).toMatch(/foreign key|references/i)

      const fk = info.foreignKeys[0]!
      expect(await connector.findOrphans!(info.name, fk, { limit: 1 })).toEqual({ count: 2, rows: [{ id: 1, parent_id: 10 }] })
      await connector.apply('parents', { upserts: [{ id: 10 }, { id: 11 }], deletes: [] }, { keys: ['id'] })
      expect(await connector.findOrphans!(children, fk, { limit: 10 })).toEqual({ count: 0, rows: [] })
    })

    it('leaves other sessions and the server-wide setting alone', async () => {
      await connector.apply('children', { upserts: [{ id: 5, parent_id: 99 }], deletes: [] }, { keys: ['id'], foreignKeyChecks: 'off' })
      await expect(ds.exec(`INSERT INTO children (id, parent_id) VALUES (?, ?)`, [6, 98])).rejects.toThrow(/foreign key/i)
      if (kind === 'mysql') expect(await ds.query(`SELECT @@GLOBAL.foreign_key_checks AS checks`)).toEqual([{ checks: 1 }])
      if (kind === 'postgres') expect(await ds.query(`SELECT setting FROM pg_settings WHERE name = 'session_replication_role'`)).toEqual([{ setting: 'origin' }])
    })
  })
}

describe('postgres: a user who may not switch foreign key checks off', () => {
  const role = `syncline_fk_${randomUUID().slice(0, 8)}`
  let ds: TestDatasource
  let connector: Connector
  const admin = (sql: string) => pgQuery(ds.url, sql)
  beforeAll(async () => {
    ds = await openDatasource('postgres')
    await ds.exec(`CREATE TABLE parents (id bigint PRIMARY KEY)`)
    await ds.exec(`CREATE TABLE children (id bigint PRIMARY KEY, parent_id bigint REFERENCES parents (id))`)
    await admin(`CREATE ROLE ${role} LOGIN`)
    await admin(`GRANT ALL ON parents, children TO ${role}`)
    const url = new URL(ds.url)
    url.username = role
    connector = connectorOf(ds, url.toString())
  })
  afterAll(async () => {
    await connector?.close()
    const url = ds?.url
    await ds?.cleanup()
    if (url) {
      const other = new URL(url)
      other.pathname = '/test'
      await pgQuery(other.toString(), `REVOKE SET ON PARAMETER session_replication_role FROM ${role}`).catch(() => undefined)
      await pgQuery(other.toString(), `DROP ROLE IF EXISTS ${role}`)
    }
  })

  it('is told which table and how to fix it, and the grant it names works', async () => {
    const error = await connector.apply('children', { upserts: [{ id: 1, parent_id: 10 }], deletes: [] }, { keys: ['id'], foreignKeyChecks: 'off' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SynclineError)
    expect(error).toMatchObject({ code: 'FOREIGN_KEY_CHECKS_DENIED', failure: 'config' })
    expect((error as Error).message).toContain(`'public.children'`)
    expect((error as Error).message).toContain(`GRANT SET ON PARAMETER session_replication_role TO "${role}"`)
    expect(await ds.query(`SELECT count(*)::int AS n FROM children`)).toEqual([{ n: 0 }])

    await admin(`GRANT SET ON PARAMETER session_replication_role TO ${role}`)
    await connector.apply('children', { upserts: [{ id: 1, parent_id: 10 }], deletes: [] }, { keys: ['id'], foreignKeyChecks: 'off' })
    expect(await ds.query(`SELECT id::int, parent_id::int FROM children`)).toEqual([{ id: 1, parent_id: 10 }])
  })
})
