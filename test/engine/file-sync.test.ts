/**
 * Syncs with files at either end: SQLite exported to CSV (an idle re-run
 * leaves the file untouched; a failed or cancelled run leaves it byte for
 * byte), and CSV imported into PostgreSQL, full and incremental.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createConnector } from '../../src/connectors/registry.js'
import type { SyncPlanInput } from '../../src/plan/schema.js'
import { SyncManager } from '../../src/sync-manager.js'
import type { Row } from '../../src/values/canonical.js'
import { hasPostgres, tempDir } from '../helpers/services.js'
import { postgresDatasource, sqliteDatasource, type TestDatasource } from './datasources.js'

/** A manager syncing `src` into `dst` (connection URLs), its state in a temp directory. */
async function openManager(src: string, dst: string, syncs: SyncPlanInput[]): Promise<{ manager: SyncManager; cleanup: () => Promise<void> }> {
  const dir = tempDir('syncline-file-state-')
  const manager = await SyncManager.open({ config: { state: join(dir.path, 'state.db'), connections: { src: { url: src }, dst: { url: dst } }, syncs }, baseDir: dir.path })
  return {
    manager,
    cleanup: async () => {
      await manager.close()
      dir.remove()
    },
  }
}

/** Every row of an entity in key order, read through its connector. */
async function readAll(url: string, entity: string, keys: string[]): Promise<Row[]> {
  const connector = await createConnector({ name: 'reader', url })
  try {
    const info = await connector.describe(entity)
    const rows: Row[] = []
    for await (const batch of connector.scan(entity, { fields: info.fields.map((f) => f.name), keys, batchSize: 1000 })) rows.push(...batch)
    return rows
  } finally {
    await connector.close()
  }
}

describe('SQLite → CSV export', () => {
  let src: TestDatasource
  let out: { path: string; remove: () => void }
  let csvUrl: string
  let csvPath: string
  const sync = (extra: Partial<SyncPlanInput> = {}): SyncPlanInput => ({
    id: 'export',
    source: { connection: 'src', entity: 'Customer' },
    destination: { connection: 'dst', entity: 'customers', create: true },
    batchSize: 7,
    ...extra,
  })

  beforeAll(async () => {
    out = tempDir('syncline-file-export-')
    csvUrl = `csv:${out.path}`
    csvPath = join(out.path, 'customers.csv')
    src = sqliteDatasource('shop')
    await src.exec(`CREATE TABLE "Customer" ("CustomerId" INTEGER PRIMARY KEY, "Name" VARCHAR(20) NOT NULL, "Amount" DECIMAL(38,10), "Big" BIGINT, "UpdatedAt" TIMESTAMP)`)
    for (let id = 1; id <= 40; id++) {
      await src.exec(`INSERT INTO "Customer" VALUES (?, ?, ?, ?, ?)`, [id, `Customer ${id}, "${id}"`, `${id}.0123456789`, id === 40 ? 2n ** 63n - 1n : id, `2026-01-01T10:00:00.${String(id).padStart(6, '0')}Z`])
    }
  })
  afterAll(async () => {
    await src?.cleanup()
    out?.remove()
  })

  it('writes every row sorted by key with a sidecar; an idle re-run leaves the file untouched', async () => {
    const { manager, cleanup } = await openManager(src.url, csvUrl, [sync()])
    try {
      expect(await manager.run('export')).toMatchObject({ status: 'succeeded', read: 40, created: 40 })
      const text = readFileSync(csvPath, 'utf8')
      const lines = text.trimEnd().split('\n')
      expect(lines[0]).toBe('CustomerId,Name,Amount,Big,UpdatedAt')
      expect(lines[1]).toBe('1,"Customer 1, ""1""",1.0123456789,1,2026-01-01T10:00:00.000001Z')
      expect(lines[40]).toBe('40,"Customer 40, ""40""",40.0123456789,9223372036854775807,2026-01-01T10:00:00.000040Z')
      const sidecar = JSON.parse(readFileSync(join(out.path, 'customers.schema.json'), 'utf8')) as { primaryKey: string[]; fields: { name: string; maxLength?: number }[] }
      expect(sidecar.primaryKey).toEqual(['CustomerId'])
      expect(sidecar.fields.find((f) => f.name === 'Name')!.maxLength).toBe(20)
      const mtime = statSync(csvPath).mtimeMs

      expect(await manager.run('export')).toMatchObject({ status: 'succeeded', read: 40, created: 0, updated: 0, deleted: 0, unchanged: 40 })
      expect(readFileSync(csvPath, 'utf8')).toBe(text)
      expect(statSync(csvPath).mtimeMs).toBe(mtime)
    } finally {
      await cleanup()
    }
    // A new process (a new connector) reads the file back and finds it equal.
    const { manager: again, cleanup: close } = await openManager(src.url, csvUrl, [sync()])
    try {
      expect(await again.run('export')).toMatchObject({ status: 'succeeded', unchanged: 40 })
      expect((await readAll(csvUrl, 'customers', ['CustomerId']))[39]).toMatchObject({ Big: 2n ** 63n - 1n, Amount: '40.0123456789' })
    } finally {
      await close()
    }
  })

  it('a run that fails or is cancelled mid-way leaves the old file byte for byte; the next good run writes it', async () => {
    const before = readFileSync(csvPath)
    await src.exec(`UPDATE "Customer" SET "Amount" = '99.99' WHERE "CustomerId" <= 30`)
    // SQLite does not enforce VARCHAR(20); the CSV destination (maxLength 20 in its sidecar) rejects it.
    await src.exec(`UPDATE "Customer" SET "Name" = ? WHERE "CustomerId" = 35`, ['x'.repeat(300)])
    const { manager, cleanup } = await openManager(src.url, csvUrl, [sync()])
    try {
      const failed = await manager.run('export')
      expect(failed.status).toBe('failed')
      expect(failed.updated).toBeGreaterThan(0)
      expect(readFileSync(csvPath).equals(before)).toBe(true)

      await src.exec(`UPDATE "Customer" SET "Name" = 'fixed' WHERE "CustomerId" = 35`)
      const controller = new AbortController()
      const cancelled = await manager.run('export', {
        signal: controller.signal,
        onProgress: (p) => {
          if (p.phase !== 'prepare' && p.current >= 14) controller.abort()
        },
      })
      expect(cancelled.status).toBe('cancelled')
      expect(readFileSync(csvPath).equals(before)).toBe(true)

      expect(await manager.run('export')).toMatchObject({ status: 'succeeded', updated: 31, unchanged: 9 })
      const rows = await readAll(csvUrl, 'customers', ['CustomerId'])
      // DECIMAL(38,10): written with its ten fraction digits.
      expect(rows.filter((r) => r.Amount === '99.9900000000')).toHaveLength(30)
      expect(rows[34]!.Name).toBe('fixed')
    } finally {
      await cleanup()
    }
  })
})

describe.skipIf(!(await hasPostgres()))('CSV → PostgreSQL import', () => {
  let dst: TestDatasource
  let input: { path: string; remove: () => void }
  let csvUrl: string
  const header = 'id,name,amount,big,updated_at'
  const line = (id: number, at: string, name = `name ${id}`) => `${id},"${name}",${id}.50,${id === 3 ? '9223372036854775807' : id},${at}`
  const writeCsv = (lines: string[]) => writeFileSync(join(input.path, 'orders.csv'), `${[header, ...lines].join('\n')}\n`)

  beforeAll(async () => {
    input = tempDir('syncline-file-import-')
    csvUrl = `csv:${input.path}`
    dst = await postgresDatasource()
  })
  afterAll(async () => {
    await dst?.cleanup()
    input?.remove()
  })

  it('imports a CSV without a sidecar exactly, then incrementally on a cursor', async () => {
    writeCsv(Array.from({ length: 20 }, (_, i) => line(i + 1, `2026-01-01T00:00:${String(i).padStart(2, '0')}.000001Z`)))
    const sync: SyncPlanInput = {
      id: 'import',
      source: { connection: 'src', entity: 'orders' },
      destination: { connection: 'dst', entity: 'public.orders', create: true },
      keys: ['id'],
      mode: 'incremental',
      cursor: 'updated_at',
      lookback: '0s',
      batchSize: 6,
    }
    const { manager, cleanup } = await openManager(csvUrl, dst.url, [sync])
    try {
      expect(await manager.run('import')).toMatchObject({ status: 'succeeded', read: 20, created: 20 })
      const types = await dst.query<{ column_name: string; data_type: string }>(`SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'orders' ORDER BY ordinal_position`)
      expect(types.map((t) => t.data_type)).toEqual(['bigint', 'text', 'numeric', 'bigint', 'timestamp with time zone'])
      const rows = await readAll(dst.url, 'public.orders', ['id'])
      expect(rows[2]).toEqual({ id: 3, name: 'name 3', amount: '3.50', big: 2n ** 63n - 1n, updated_at: '2026-01-01T00:00:02.000001Z' })

      // Two new rows and one changed row, all later than the watermark.
      const lines = Array.from({ length: 22 }, (_, i) => line(i + 1, i >= 20 ? '2026-01-02T00:00:00.000000Z' : `2026-01-01T00:00:${String(i).padStart(2, '0')}.000001Z`))
      lines[4] = line(5, '2026-01-02T00:00:00.000000Z', 'renamed ""5""')
      writeCsv(lines)
      const second = await manager.run('import')
      expect(second).toMatchObject({ status: 'succeeded', read: 3, created: 2, updated: 1 })
      const after = await readAll(dst.url, 'public.orders', ['id'])
      expect(after).toHaveLength(22)
      expect(after[4]!.name).toBe('renamed "5"')
      expect(await manager.run('import')).toMatchObject({ status: 'succeeded', read: 0, created: 0, updated: 0 })
    } finally {
      await cleanup()
    }
  })

  it('a full import of NDJSON keeps bigints and decimals exact', async () => {
    writeFileSync(join(input.path, 'ledger.ndjson'), '{"id":1,"amount":0.1000000000000000055,"big":9223372036854775807}\n{"id":2,"amount":"12.50","big":-9223372036854775808}\n')
    writeFileSync(
      join(input.path, 'ledger.schema.json'),
      JSON.stringify({ fields: [{ name: 'id', type: 'integer', nullable: false }, { name: 'amount', type: 'decimal', precision: 30, scale: 20 }, { name: 'big', type: 'integer' }], primaryKey: ['id'] }),
    )
    const sync: SyncPlanInput = { id: 'ledger', source: { connection: 'src', entity: 'ledger' }, destination: { connection: 'dst', entity: 'public.ledger', create: true } }
    const { manager, cleanup } = await openManager(`ndjson:${input.path}`, dst.url, [sync])
    try {
      expect(await manager.run('ledger')).toMatchObject({ status: 'succeeded', created: 2 })
      const rows = await dst.query<{ amount: string; big: string }>(`SELECT amount::text, big::text FROM ledger ORDER BY id`)
      expect(rows).toEqual([
        { amount: '0.10000000000000000550', big: '9223372036854775807' },
        { amount: '12.50000000000000000000', big: '-9223372036854775808' },
      ])
    } finally {
      await cleanup()
    }
  })
})

describe.skipIf(!(await hasPostgres()))('decimals keep their declared scale in text files (issue 6 #10f)', () => {
  let sqlite: TestDatasource
  let pg: TestDatasource
  let out: { path: string; remove: () => void }

  beforeAll(async () => {
    out = tempDir('syncline-file-decimal-')
    sqlite = sqliteDatasource('shop')
    // SQLite keeps DECIMAL(10,2) values as REAL: 19.90 reads back as 19.9, 5 as 5.
    await sqlite.exec('CREATE TABLE prices (id INTEGER PRIMARY KEY, price DECIMAL(10,2))')
    await sqlite.exec("INSERT INTO prices VALUES (1, 19.90), (2, '19.90'), (3, 5), (4, -0.5), (5, NULL), (6, 123.45)")
    pg = await postgresDatasource()
    await pg.exec('CREATE TABLE prices (id integer PRIMARY KEY, price numeric(10,2))')
    await pg.exec("INSERT INTO prices VALUES (1, 19.90), (2, 19.9), (3, 5), (4, -0.5), (5, NULL), (6, 123.45)")
  })
  afterAll(async () => {
    await sqlite?.cleanup()
    await pg?.cleanup()
    out?.remove()
  })

  const expected = ['19.90', '19.90', '5.00', '-0.50', null, '123.45']

  for (const from of ['sqlite', 'postgres'] as const) {
    for (const format of ['csv', 'ndjson'] as const) {
      it(`${from} DECIMAL(10,2) → ${format} writes 19.90, and reads back the same into PostgreSQL`, async () => {
        const source = from === 'sqlite' ? sqlite : pg
        const dir = join(out.path, `${from}-${format}`)
        const fileUrl = `${format}:${dir}`
        const { manager, cleanup } = await openManager(source.url, fileUrl, [
          { id: 'out', source: { connection: 'src', entity: 'prices' }, destination: { connection: 'dst', entity: 'prices', create: true } },
        ])
        try {
          expect(await manager.run('out')).toMatchObject({ status: 'succeeded', created: 6 })
          const text = readFileSync(join(dir, `prices.${format}`), 'utf8')
          if (format === 'csv') expect(text).toBe('id,price\n1,19.90\n2,19.90\n3,5.00\n4,-0.50\n5,\n6,123.45\n')
          else expect(text.split('\n')[0]).toBe('{"id":1,"price":"19.90"}')
          // Equal values are not rewritten: a second run changes nothing.
          expect(await manager.run('out')).toMatchObject({ status: 'succeeded', unchanged: 6, updated: 0 })
        } finally {
          await cleanup()
        }
        expect((await readAll(fileUrl, 'prices', ['id'])).map((r) => r.price)).toEqual(expected)

        // And back: the file into a new PostgreSQL table keeps the scale.
        const back = `back_${from}_${format}`
        const { manager: importer, cleanup: closeImporter } = await openManager(fileUrl, pg.url, [
          { id: 'in', source: { connection: 'src', entity: 'prices' }, destination: { connection: 'dst', entity: back, create: true } },
        ])
        try {
          expect(await importer.run('in')).toMatchObject({ status: 'succeeded', created: 6 })
        } finally {
          await closeImporter()
        }
        expect((await pg.query<{ price: string | null }>(`SELECT price::text AS price FROM ${back} ORDER BY id`)).map((r) => r.price)).toEqual(expected)
      })
    }
  }
})
