/**
 * PostgreSQL with `cdc: triggers` (change capture through a trigger change
 * log instead of logical replication): the same server and fresh database
 * per file as the `postgres` harness, so every conformance case, change
 * capture included, runs on the trigger feed too.
 */
import type { Connector } from '../../src/connectors/connector.js'
import { createConnector } from '../../src/connectors/registry.js'
import { createPgDatabase, hasPostgres } from '../helpers/services.js'
import type { ConnectorHarness } from './harnesses.js'

export const POSTGRES_TRIGGERS_HARNESS: ConnectorHarness = {
  kind: 'postgres-triggers',
  connectorKind: 'postgres',
  available: hasPostgres,
  open: async () => {
    const database = await createPgDatabase('syncline_conformance_trg')
    const connector = await createConnector({ name: 'conformance', url: database.url, cdc: 'triggers' })
    const others: Connector[] = []
    return {
      connector,
      another: async () => {
        const other = await createConnector({ name: 'conformance_other', url: database.url, cdc: 'triggers' })
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
