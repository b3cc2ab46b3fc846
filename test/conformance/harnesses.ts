/**
 * The connectors the conformance suite runs against, one harness per kind.
 * Each test file loops over them (`for (const h of HARNESSES) describe(h.kind, …)`),
 * and a harness whose server is unreachable is skipped with the reason printed
 * (a failure under SYNCLINE_TEST_SERVICES=required, see test/helpers/services.ts).
 * Filter with SYNCLINE_CONFORMANCE=sqlite,postgres.
 */
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Connector } from '../../src/connectors/connector.js'
import { createConnector } from '../../src/connectors/registry.js'
import { createSqliteConnector } from '../../src/connectors/sqlite/connector.js'
import { createPgDatabase, hasPostgres, tempDir } from '../helpers/services.js'
import { EXTRA_HARNESSES } from './more-harnesses.js'

/** A connector under test and how to throw its datasource away. */
export interface OpenedConnector {
  connector: Connector
  /**
   * The connector as the engine gets it, when `connector` wraps it (the file
   * harness commits after every apply): the staging cases write through it
   * and read through `connector`, which sees only committed data.
   */
  staged?: Connector
  /** Every file of the datasource with its bytes (staging connectors), to prove a rollback changed nothing. */
  snapshot?(): Map<string, Buffer>
  /**
   * A second, independent connector on the same datasource (its own
   * connection or file handle), closed by `cleanup`. The change-capture
   * cases write through it: a feed must see writes from any connection,
   * not only its own connector's.
   */
  another?(): Promise<Connector>
  cleanup(): Promise<void>
}

/** How to get a fresh, empty datasource of one kind. */
export interface ConnectorHarness {
  kind: string
  /** The connector's own `kind` when the harness runs it in another setting (`postgres-triggers` runs `postgres`); default `kind`. */
  connectorKind?: string
  /** Whether it can run here; prints why not. */
  available(): Promise<boolean>
  /** A connector on a new, empty datasource (a temp file, a new database). */
  open(): Promise<OpenedConnector>
  /**
   * The datasource keeps no state per change-feed consumer (the MariaDB/MySQL
   * binlog: a position is a place in the server's log, valid for any reader
   * while its file exists), so `dropChangeFeed` has nothing to drop and an
   * old position stays valid after it.
   */
  statelessFeeds?: boolean
}

const only = process.env.SYNCLINE_CONFORMANCE?.split(',').map((s) => s.trim())

/** Every connector kind, in the order the suite runs them. */
export const HARNESSES: ConnectorHarness[] = [
  {
    kind: 'sqlite',
    available: async () => true,
    open: async () => {
      const dir = tempDir('syncline-conformance-')
      const path = join(dir.path, 'conformance.db')
      // An empty file is an empty SQLite database: the datasource exists, as a server's would.
      writeFileSync(path, '')
      const connector = createSqliteConnector({ name: 'conformance', url: `sqlite:${path}` })
      const others: Connector[] = []
      return {
        connector,
        another: async () => {
          const other = createSqliteConnector({ name: 'conformance_other', url: `sqlite:${path}` })
          others.push(other)
          return other
        },
        cleanup: async () => {
          for (const other of others) await other.close()
          await connector.close()
          dir.remove()
        },
      }
    },
  },
  {
    kind: 'postgres',
    available: async () => {
      const source = fileURLToPath(new URL('../../src/connectors/postgres/connector.ts', import.meta.url))
      if (!existsSync(source)) {
        console.warn('skipping PostgreSQL conformance: src/connectors/postgres/connector.ts does not exist yet')
        return false
      }
      return hasPostgres()
    },
    open: async () => {
      const database = await createPgDatabase('syncline_conformance')
      // Through the registry, which lazy-loads createPostgresConnector.
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
  },
  ...EXTRA_HARNESSES,
].filter((h) => !only || only.includes(h.kind))
