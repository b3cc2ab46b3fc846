/**
 * A fresh MariaDB/MySQL database and a connector on it, per test file.
 */
import { afterAll, beforeAll } from 'vitest'
import type { Connector, ScanOptions } from '../../../src/connectors/connector.js'
import { createMysqlConnector } from '../../../src/connectors/mysql/connector.js'
import type { Row } from '../../../src/values/canonical.js'
import { createMysqlDatabase, mysqlQuery } from '../../helpers/services.js'

/** The connector, its database URL, and raw SQL against that database. */
export interface MysqlFixture {
  connector(): Connector
  url(): string
  /** The database's name. */
  name(): string
  /** Raw SQL (text protocol, `?` placeholders) on a short-lived connection. */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>
}

/** Create a database before the file's tests and drop it after. */
export function useMysqlFixture(): MysqlFixture {
  let database: Awaited<ReturnType<typeof createMysqlDatabase>> | undefined
  let connector: Connector | undefined
  beforeAll(async () => {
    database = await createMysqlDatabase('syncline_my')
    connector = createMysqlConnector({ name: 'shop', url: database.url })
  })
  afterAll(async () => {
    await connector?.close()
    await database?.drop()
  })
  const need = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the MariaDB fixture did not start')
    return value
  }
  return {
    connector: () => need(connector),
    url: () => need(database).url,
    name: () => need(database).name,
    sql: (text, params = []) => mysqlQuery(need(database).url, text, params),
  }
}

/** Every row of a scan and the batch sizes it came in. */
export async function scanAll(connector: Connector, entity: string, opts: Omit<ScanOptions, 'batchSize'> & { batchSize?: number }): Promise<{ rows: Row[]; batches: number[] }> {
  const rows: Row[] = []
  const batches: number[] = []
  for await (const batch of connector.scan(entity, { batchSize: 1000, ...opts })) {
    batches.push(batch.length)
    rows.push(...batch)
  }
  return { rows, batches }
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string; failure?: string; details?: Record<string, unknown> }> {
  try {
    await promise
  } catch (error) {
    return error as Error & { code?: string; failure?: string; details?: Record<string, unknown> }
  }
  throw new Error('expected the call to fail, but it succeeded')
}
