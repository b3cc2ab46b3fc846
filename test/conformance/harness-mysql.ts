/**
 * The MariaDB/MySQL harness: a fresh database per test file on the server
 * at SYNCLINE_TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306/test),
 * connected through the registry (which lazy-loads createMysqlConnector).
 */
import type { Connector } from '../../src/connectors/connector.js'
import { createConnector } from '../../src/connectors/registry.js'
import { createMysqlDatabase, hasMysql } from '../helpers/services.js'
import type { ConnectorHarness } from './harnesses.js'

export const MYSQL_HARNESS: ConnectorHarness = {
  kind: 'mysql',
  available: () => hasMysql(),
  statelessFeeds: true,
  open: async () => {
    const database = await createMysqlDatabase('syncline_conformance')
    const connector = await createConnector({ name: 'conformance', url: database.url })
    const others: Connector[] = []
    return {
      connector,
      another: async () => {
        const other = await createConnector({ name: 'conformance_other', url: database.url })
        others.push(other)
        return other
      },
      cleanup: async () => {
        for (const other of others) await other.close()
        await connector.close()
        await database.drop()
      },
    }
  },
}
