/**
 * A temporary directory of files and connectors on it, for the file
 * connector's tests.
 */
import { afterAll, afterEach, beforeAll } from 'vitest'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Connector } from '../../../src/connectors/connector.js'
import { createFileConnector } from '../../../src/connectors/file/connector.js'
import type { Row } from '../../../src/values/canonical.js'
import { tempDir } from '../../helpers/services.js'

/** A directory for one test file; connectors opened through it are closed after each test. */
export function useFileDir(prefix = 'syncline-file-test-'): {
  readonly path: string
  connect(kind: 'csv' | 'ndjson', query?: string): Connector
  write(name: string, content: string | Buffer): string
  read(name: string): string
  bytes(name: string): Buffer
} {
  // Made in beforeAll, so a suite that is skipped or filtered out leaves nothing behind.
  let dir: { path: string; remove: () => void } | undefined
  const open: Connector[] = []
  beforeAll(() => {
    dir = tempDir(prefix)
  })
  afterEach(async () => {
    for (const connector of open.splice(0)) await connector.close()
  })
  afterAll(() => dir?.remove())
  const path = () => {
    if (!dir) throw new Error('useFileDir: the directory exists only inside tests')
    return dir.path
  }
  return {
    get path() {
      return path()
    },
    connect: (kind, query = '') => {
      const connector = createFileConnector({ name: 'files', url: `${kind}:${path()}${query}` })
      open.push(connector)
      return connector
    },
    write: (name, content) => {
      const file = join(path(), name)
      writeFileSync(file, content)
      return file
    },
    read: (name) => readFileSync(join(path(), name), 'utf8'),
    bytes: (name) => readFileSync(join(path(), name)),
  }
}

/** Every row of an entity in key order (all fields). */
export async function readRows(connector: Connector, entity: string, keys: string[], batchSize = 1000): Promise<Row[]> {
  const info = await connector.describe(entity)
  const rows: Row[] = []
  for await (const batch of connector.scan(entity, { fields: info.fields.map((f) => f.name), keys, batchSize })) rows.push(...batch)
  return rows
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function failure(promise: Promise<unknown>): Promise<Error & { code?: string; failure?: string; details?: Record<string, unknown> }> {
  try {
    await promise
  } catch (error) {
    return error as Error & { code?: string; failure?: string; details?: Record<string, unknown> }
  }
  throw new Error('expected a failure, but the call succeeded')
}
