/**
 * Connecting: errors that say what is wrong and how to fix it, and never
 * show the password; `check` reports the server, binlog readiness for CDC
 * and character sets that cannot hold every text.
 */
import { describe, expect, it } from 'vitest'
import { createMysqlConnector } from '../../../src/connectors/mysql/connector.js'
import { replicationGrants, selectGrant } from '../../../src/connectors/mysql/check.js'
import { endpointOf, poolOptions } from '../../../src/connectors/mysql/pool.js'
import { createConnector } from '../../../src/connectors/registry.js'
import { ConnectionError } from '../../../src/errors.js'
import { MYSQL_URL, createMysqlDatabase, hasMysql, mysqlQuery } from '../../helpers/services.js'
import { rejection, useMysqlFixture } from './fixture.js'

const SECRET = 's3cret-Pa55word'

/** Everything of an error a user or a log could see. */
function visible(error: Error & { details?: unknown }): string {
  return [error.message, String(error), error.stack, JSON.stringify(error.details), JSON.stringify(error)].join('\n')
}

describe('MySQL connection settings', () => {
  it('a password given apart overrides the URL password; the URL names host, port, user and database', () => {
    const options = poolOptions({ name: 'shop', url: 'mysql://sync:old@db.example:3307/shop', password: 'new p@ss/word' })
    expect(options).toMatchObject({ host: 'db.example', port: 3307, user: 'sync', password: 'new p@ss/word', database: 'shop' })
    expect(poolOptions({ name: 'shop', url: 'mariadb://sync:p%40ss@db.example/shop' }).password).toBe('p@ss')
    expect(endpointOf('mariadb://sync@db.example/shop')).toMatchObject({ host: 'db.example', port: 3306, database: 'shop', label: 'db.example:3306/shop' })
  })

  it('a URL that is not MySQL is a config error', () => {
    expect(() => createMysqlConnector({ name: 'x', url: 'postgres://a@b/c' })).toThrow(/mysql:\/\//)
  })

  it('reads replication grants, MariaDB names included', () => {
    expect(replicationGrants(['GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION'])).toEqual({ slave: true, client: true })
    expect(replicationGrants(['GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `sync`@`%`'])).toEqual({ slave: true, client: true })
    expect(replicationGrants(['GRANT BINLOG MONITOR, REPLICATION SLAVE ON *.* TO `sync`@`%`'])).toEqual({ slave: true, client: true })
    expect(replicationGrants(['GRANT REPLICATION SLAVE ADMIN ON *.* TO `sync`@`%`', 'GRANT ALL PRIVILEGES ON `shop`.* TO `sync`@`%`'])).toEqual({ slave: false, client: false })
  })

  it('reads the SELECT grant a snapshot needs, on *.* or the database', () => {
    expect(selectGrant(['GRANT SELECT, REPLICATION SLAVE ON *.* TO `sync`@`%`'], 'shop')).toBe(true)
    expect(selectGrant(['GRANT USAGE ON *.* TO `sync`@`%`', 'GRANT ALL PRIVILEGES ON `shop`.* TO `sync`@`%`'], 'shop')).toBe(true)
    expect(selectGrant(['GRANT SELECT ON `my\\_shop`.* TO `sync`@`%`'], 'my_shop')).toBe(true)
    expect(selectGrant(['GRANT SELECT ON `other`.* TO `sync`@`%`', 'GRANT INSERT ON `shop`.* TO `sync`@`%`'], 'shop')).toBe(false)
    expect(selectGrant(['GRANT SELECT ON `shop`.`orders` TO `sync`@`%`'], 'shop')).toBe(false)
  })

  it('connection refused is a transient ConnectionError naming host:port and the fix, without the password', async () => {
    for (const config of [
      { name: 'shop', url: `mysql://sync:${SECRET}@127.0.0.1:1/shop` },
      { name: 'shop', url: 'mariadb://sync@127.0.0.1:1/shop', password: SECRET },
    ]) {
      const connector = createMysqlConnector(config)
      try {
        const error = await rejection(connector.check())
        expect(error).toBeInstanceOf(ConnectionError)
        expect(error).toMatchObject({ code: 'CONNECTION_REFUSED', failure: 'transient' })
        expect(error.message).toContain('127.0.0.1:1')
        expect(error.message).toContain("'shop'")
        expect(error.message).toMatch(/Check that the server is running/)
        expect(visible(error)).not.toContain(SECRET)
        const count = await rejection(connector.count('anything'))
        expect(count).toMatchObject({ code: 'CONNECTION_REFUSED' })
        expect(visible(count)).not.toContain(SECRET)
      } finally {
        await connector.close()
      }
    }
  })
})

describe.skipIf(!(await hasMysql()))('MySQL check', () => {
  const my = useMysqlFixture()

  it('reports the server, binlog settings and whether CDC could run, with the fix when not', async () => {
    const report = await my.connector().check()
    expect(report).toMatchObject({ connection: 'shop', kind: 'mysql', capabilities: { cdc: true, transactions: true, bulkExport: true, bulkLoad: false, orderedKeyScan: true, staging: false } })
    expect(report.version).toMatch(/^(MariaDB|MySQL) \d+\.\d+\.\d+$/)
    const { log_bin, binlog_format, binlog_row_image, server_id, replication_slave, replication_client, select } = report.details
    expect(report.cdc.ready).toBe(log_bin === true && binlog_format === 'ROW' && binlog_row_image === 'FULL' && Number(server_id) > 0 && replication_slave === true && replication_client === true && select === true)
    if (!report.cdc.ready) expect(report.cdc.reason).toMatch(/log_bin|binlog_format|binlog_row_image|server_id|REPLICATION|SELECT/)
    expect(report.details.database).toBe(my.name())
    expect(report.details.character_set_database).toBe('utf8mb4')
  })

  it('reports a database that is not utf8mb4, with the fix', async () => {
    const latin = await createMysqlDatabase('syncline_latin')
    await mysqlQuery(MYSQL_URL, `ALTER DATABASE \`${latin.name}\` CHARACTER SET latin1`)
    const connector = createMysqlConnector({ name: 'legacy', url: latin.url })
    try {
      const report = await connector.check()
      expect(report.details.character_set_database).toBe('latin1')
      expect(String(report.details.charset_warning)).toContain(`ALTER DATABASE \`${latin.name}\` CHARACTER SET utf8mb4`)
    } finally {
      await connector.close()
      await latin.drop()
    }
  })

  it('reports an unknown user as AUTH_FAILED and a missing database as a config error, without the password', async () => {
    const noUser = new URL(MYSQL_URL)
    noUser.username = 'syncline_no_such_user'
    const byUser = await createConnector({ name: 'w', url: noUser.toString(), password: SECRET })
    const auth = await rejection(byUser.check())
    await byUser.close()
    expect(auth).toMatchObject({ code: 'AUTH_FAILED', failure: 'config' })
    expect(auth.message).toContain('syncline_no_such_user')
    expect(visible(auth)).not.toContain(SECRET)

    const noDb = new URL(MYSQL_URL)
    noDb.pathname = '/syncline_no_such_database'
    const byDb = await createConnector({ name: 'w', url: noDb.toString() })
    const missing = await rejection(byDb.check())
    await byDb.close()
    expect(missing).toMatchObject({ code: 'CONNECTION_REFUSED', failure: 'config' })
    expect(missing.message).toContain("'syncline_no_such_database' does not exist")
  })

  it('never shows a password given in the URL', async () => {
    const url = new URL(my.url())
    url.password = SECRET
    const connector = createMysqlConnector({ name: 'w', url: url.toString() })
    try {
      const report = await rejection(connector.check())
      // root has no password here, so a wrong one is refused: still nothing of it shows.
      expect(visible(report)).not.toContain(SECRET)
    } finally {
      await connector.close()
    }
  })
})
