/**
 * SQLite connections: URL forms, where files are created (only when
 * writing), what a missing or broken file reports, and check().
 */
import Database from 'better-sqlite3'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createConnector } from '../../../src/connectors/registry.js'
import { createSqliteConnector } from '../../../src/connectors/sqlite/connector.js'
import { resolveSqlitePath } from '../../../src/connectors/sqlite/database.js'
import { ConnectionError, SynclineError } from '../../../src/errors.js'
import type { FieldInfo } from '../../../src/values/canonical.js'
import { tempDir } from '../../helpers/services.js'

const FIELDS: FieldInfo[] = [
  { name: 'id', type: 'integer', nativeType: '', nullable: false },
  { name: 'name', type: 'text', nativeType: '', nullable: true },
]

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir('syncline-sqlite-')
})
afterEach(() => dir.remove())

describe('resolveSqlitePath', () => {
  it('resolves relative paths against baseDir, else the working directory', () => {
    expect(resolveSqlitePath('sqlite:./data/shop.db', '/plans')).toBe('/plans/data/shop.db')
    expect(resolveSqlitePath('sqlite:shop.db', '/plans')).toBe('/plans/shop.db')
    expect(resolveSqlitePath('sqlite:../shop.db', '/plans/x')).toBe('/plans/shop.db')
    expect(resolveSqlitePath('sqlite:./shop.db')).toBe(join(process.cwd(), 'shop.db'))
  })

  it('takes absolute paths as they are, in both URL spellings', () => {
    expect(resolveSqlitePath('sqlite:/var/data/shop.db', '/plans')).toBe('/var/data/shop.db')
    expect(resolveSqlitePath('sqlite:///var/data/shop.db', '/plans')).toBe('/var/data/shop.db')
  })

  it('knows the in-memory database and rejects a URL without a path', () => {
    expect(resolveSqlitePath('sqlite::memory:')).toBe(':memory:')
    expect(() => resolveSqlitePath('sqlite:')).toThrow(SynclineError)
  })
})

describe('opening files', () => {
  it('reading a missing file is a ConnectionError naming the path and the fix, and creates nothing', async () => {
    const connector = createSqliteConnector({ name: 'shop', url: 'sqlite:./missing/shop.db', baseDir: dir.path })
    const path = join(dir.path, 'missing', 'shop.db')
    for (const call of [() => connector.check(), () => connector.discover(), () => connector.describe('x'), () => connector.count('x')]) {
      const error = await call().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ConnectionError)
      expect((error as ConnectionError).code).toBe('CONNECTION_REFUSED')
      expect((error as Error).message).toContain(path)
      expect((error as Error).message).toContain('connection URL')
    }
    const scan = connector.scan('x', { fields: [], keys: ['id'], batchSize: 10 })[Symbol.asyncIterator]()
    await expect(scan.next()).rejects.toBeInstanceOf(ConnectionError)
    expect(existsSync(join(dir.path, 'missing'))).toBe(false)
    await connector.close()
  })

  it('writing creates the file and its parent directories', async () => {
    const connector = createSqliteConnector({ name: 'shop', url: 'sqlite:./a/b/shop.db', baseDir: dir.path })
    await connector.ensureEntity('people', FIELDS, ['id'])
    await connector.apply('people', { upserts: [{ id: 1, name: 'Ada' }], deletes: [] }, { keys: ['id'] })
    await connector.close()
    const db = new Database(join(dir.path, 'a', 'b', 'shop.db'))
    expect(db.prepare('SELECT name FROM people').pluck().all()).toEqual(['Ada'])
    db.close()
  })

  it('creating a table named sqlite_… (reserved by SQLite) is a plan error with the fix, not an internal one', async () => {
    const connector = createSqliteConnector({ name: 'shop', url: `sqlite:${join(dir.path, 'shop.db')}` })
    try {
      for (const name of ['sqlite_orders', 'main.SQLITE_x']) {
        const error = await connector.ensureEntity(name, FIELDS, ['id']).then(() => undefined, (e: unknown) => e as SynclineError)
        expect(error).toBeInstanceOf(SynclineError)
        expect(error).toMatchObject({ code: 'PLAN_INVALID', failure: 'config' })
        expect(error!.message).toContain('Name the destination entity differently')
      }
      await connector.ensureEntity('my_sqlite_orders', FIELDS, ['id'])
    } finally {
      await connector.close()
    }
  })

  it('check reports version, path, WAL journal, capabilities and that change capture (triggers) is ready', async () => {
    const path = join(dir.path, 'shop.db')
    writeFileSync(path, '')
    const connector = createSqliteConnector({ name: 'shop', url: `sqlite:${path}` })
    const report = await connector.check()
    expect(report).toMatchObject({
      connection: 'shop',
      kind: 'sqlite',
      capabilities: { cdc: true, transactions: true, bulkExport: true, bulkLoad: false, orderedKeyScan: true, staging: false },
      cdc: { ready: true },
      details: { path, journalMode: 'wal', cdcMethod: 'triggers', cdcCaptured: 'none yet' },
    })
    expect(report.version).toMatch(/^3\.\d+\.\d+$/)
    await connector.close()
  })

  it('a file that is not a SQLite database is a ConnectionError', async () => {
    const path = join(dir.path, 'notes.db')
    writeFileSync(path, 'this is not a database, just some text that is long enough to have a header '.repeat(10))
    const connector = createSqliteConnector({ name: 'notes', url: `sqlite:${path}` })
    const error = await connector.check().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectionError)
    expect((error as Error).message).toContain('not a SQLite database')
  })

  it('sqlite::memory: works for writing and reading', async () => {
    const connector = createSqliteConnector({ name: 'mem', url: 'sqlite::memory:' })
    await connector.ensureEntity('people', FIELDS, ['id'])
    await connector.apply('people', { upserts: [{ id: 1, name: 'Ada' }], deletes: [] }, { keys: ['id'] })
    expect(await connector.lookup('people', ['id'], [[1]], ['name'])).toEqual([{ id: 1, name: 'Ada' }])
    expect((await connector.check()).details.path).toBe(':memory:')
    await connector.close()
  })

  it('the registry creates the SQLite connector for sqlite: URLs', async () => {
    const connector = await createConnector({ name: 'shop', url: 'sqlite::memory:' })
    expect(connector.kind).toBe('sqlite')
    await connector.close()
  })

  it('close, then use again, reopens the file', async () => {
    const connector = createSqliteConnector({ name: 'shop', url: `sqlite:${join(dir.path, 'x.db')}` })
    await connector.ensureEntity('people', FIELDS, ['id'])
    await connector.close()
    expect(await connector.count('people')).toBe(0)
    await connector.close()
  })
})
