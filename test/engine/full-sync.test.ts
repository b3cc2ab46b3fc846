/**
 * Full sync between every pair of SQLite and PostgreSQL: creates, updates,
 * deletes, unchanged rows left alone, dry runs, and key order across
 * databases (text keys compared by UTF-8 bytes on both sides).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SyncPlanInput } from '../../src/plan/schema.js'
import { normalizeDecimal } from '../../src/values/compare.js'
import { hasPostgres } from '../helpers/services.js'
import { openDatasource, type TestDatasource } from './datasources.js'
import { openManager, readAll } from './sync-harness.js'

const pgAvailable = await hasPostgres()
const KINDS = ['sqlite', 'postgres'] as const
const PAIRS = KINDS.flatMap((s) => KINDS.map((d) => [s, d] as const)).filter(([s, d]) => pgAvailable || (s === 'sqlite' && d === 'sqlite'))

const timestampType = (kind: string) => (kind === 'postgres' ? 'timestamptz' : 'TIMESTAMP')

async function createCustomers(ds: TestDatasource, count: number): Promise<void> {
  await ds.exec(`CREATE TABLE "Customer" ("CustomerId" INTEGER PRIMARY KEY, "Full Name" VARCHAR(100) NOT NULL, "Amount" DECIMAL(12,2), "UpdatedAt" ${timestampType(ds.kind)})`)
  for (let id = 1; id <= count; id++) {
    await ds.exec(`INSERT INTO "Customer" VALUES (?, ?, ?, ?)`, [id, `Customer ${id}`, `${id}.50`, `2026-01-01T10:00:00.${String(id).padStart(6, '0')}Z`])
  }
}

const customersSync = (extra: Partial<SyncPlanInput> = {}): SyncPlanInput => ({
  id: 'customers',
  source: { connection: 'src', entity: 'Customer' },
  destination: { connection: 'dst', entity: 'customers', create: true },
  batchSize: 7,
  ...extra,
})

for (const [sourceKind, destinationKind] of PAIRS) {
  describe(`full sync ${sourceKind} → ${destinationKind}`, () => {
    let src: TestDatasource
    let dst: TestDatasource
    beforeAll(async () => {
      src = await openDatasource(sourceKind, 'src')
      dst = await openDatasource(destinationKind, 'dst')
    })
    afterAll(async () => {
      await src?.cleanup()
      await dst?.cleanup()
    })

    it('creates the table, copies every row exactly, then leaves unchanged rows alone', async () => {
      await createCustomers(src, 40)
      const { manager, cleanup } = await openManager(src, dst, [customersSync()])
      try {
        const first = await manager.run('customers')
        expect(first).toMatchObject({ status: 'succeeded', read: 40, created: 40, updated: 0, deleted: 0, failed: 0 })
        const rows = await readAll(dst, 'customers', ['CustomerId'])
        expect(rows).toHaveLength(40)
        // SQLite's DECIMAL affinity may store 12.50 as 12.5; the value is what counts.
        expect({ ...rows[11], Amount: normalizeDecimal(rows[11]!.Amount as string) }).toEqual({ CustomerId: 12, 'Full Name': 'Customer 12', Amount: '12.5', UpdatedAt: '2026-01-01T10:00:00.000012Z' })

        const second = await manager.run('customers')
        expect(second).toMatchObject({ status: 'succeeded', read: 40, created: 0, updated: 0, deleted: 0, unchanged: 40 })
      } finally {
        await cleanup()
      }
    })

    it('propagates updates, inserts and deletes with exact counts; a dry run writes nothing', async () => {
      const { manager, cleanup } = await openManager(src, dst, [customersSync()])
      try {
        await src.exec(`UPDATE "Customer" SET "Amount" = '99.99' WHERE "CustomerId" IN (3, 17, 33)`)
        await src.exec(`DELETE FROM "Customer" WHERE "CustomerId" IN (8, 40)`)
        for (const id of [41, 42, 43, 44]) await src.exec(`INSERT INTO "Customer" VALUES (?, ?, ?, ?)`, [id, `New ${id}`, null, null])

        const planned: string[] = []
        const dry = await manager.run('customers', { dryRun: true, onPlanned: (_id, ops) => planned.push(...ops.map((o) => o.kind)) })
        expect(dry).toMatchObject({ status: 'succeeded', dryRun: true, created: 4, updated: 3, deleted: 2 })
        expect(planned.sort()).toEqual(['create', 'create', 'create', 'create', 'delete', 'delete', 'update', 'update', 'update'])
        expect(await readAll(dst, 'customers', ['CustomerId'])).toHaveLength(40)

        const real = await manager.run('customers')
        expect(real).toMatchObject({ status: 'succeeded', created: 4, updated: 3, deleted: 2, unchanged: 35 })
        const rows = await readAll(dst, 'customers', ['CustomerId'])
        expect(rows.map((r) => r.CustomerId)).toEqual((await readAll(src, 'Customer', ['CustomerId'])).map((r) => r.CustomerId))
        expect(rows.find((r) => r.CustomerId === 17)?.Amount).toBe('99.99')
        expect(rows.find((r) => r.CustomerId === 44)).toMatchObject({ Amount: null, UpdatedAt: null })
      } finally {
        await cleanup()
      }
    })

    it('compares row by row in pages of 2,000 rows and writes at most 1,000 rows per batch', async () => {
      await src.exec(`CREATE TABLE "Bulk" ("Id" INTEGER PRIMARY KEY, "Label" VARCHAR(40) NOT NULL)`)
      await src.exec(
        src.kind === 'postgres'
          ? `INSERT INTO "Bulk" SELECT g, 'row ' || g FROM generate_series(1, 5000) g`
          : `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) INSERT INTO "Bulk" SELECT i, 'row ' || i FROM n`,
      )
      const sync = { id: 'bulk', source: { connection: 'src', entity: 'Bulk' }, destination: { connection: 'dst', entity: 'bulk', create: true }, compare: 'rows', batchSize: 3000 } as const
      const { manager, cleanup } = await openManager(src, dst, [sync])
      try {
        expect(await manager.run('bulk')).toMatchObject({ status: 'succeeded', created: 5000 })
        await src.exec(`UPDATE "Bulk" SET "Label" = 'changed'`)
        const compared: number[] = []
        const batches: number[] = []
        const dry = await manager.run('bulk', {
          dryRun: true,
          onProgress: (p) => p.phase === 'copy' && p.current > 0 && compared.push(p.current),
          onPlanned: (_id, ops) => batches.push(ops.length),
        })
        expect(dry).toMatchObject({ status: 'succeeded', updated: 5000 })
        // Pages of 3,000 rows outlive young GCs: a re-sync of 1,000,000 rows peaked at 2.1 times the RSS (key-page.ts).
        expect(compared).toEqual([2000, 4000, 5000])
        // Writes gathered to 3,000 outlive young GCs too (key-page.ts, WRITE_ROWS).
        expect(batches).toEqual([1000, 1000, 1000, 1000, 1000])
        expect(await manager.run('bulk')).toMatchObject({ status: 'succeeded', updated: 5000 })
        expect((await readAll(dst, 'bulk', ['Id'])).filter((r) => r.Label === 'changed')).toHaveLength(5000)
      } finally {
        await cleanup()
      }
    })

    it('keeps destination rows when deletes: ignore', async () => {
      const { manager, cleanup } = await openManager(src, dst, [customersSync({ deletes: 'ignore' })])
      try {
        await src.exec(`DELETE FROM "Customer" WHERE "CustomerId" = 1`)
        const result = await manager.run('customers')
        expect(result).toMatchObject({ status: 'succeeded', deleted: 0 })
        expect((await readAll(dst, 'customers', ['CustomerId'])).some((r) => r.CustomerId === 1)).toBe(true)
      } finally {
        await cleanup()
      }
    })

    it('merges text keys in byte order on both sides (emoji, U+FFFF, case)', async () => {
      await src.exec(`CREATE TABLE words (word VARCHAR(20) PRIMARY KEY, n INTEGER)`)
      const words = ['a', 'B', 'b', 'Z', 'é', '\uffff', '😀', '\ud83d\ude00x', 'zz', 'A b', "it's", '']
      for (const [i, w] of words.entries()) await src.exec(`INSERT INTO words VALUES (?, ?)`, [w, i])
      const sync: SyncPlanInput = { id: 'words', source: { connection: 'src', entity: 'words' }, destination: { connection: 'dst', entity: 'words', create: true }, batchSize: 3 }
      const { manager, cleanup } = await openManager(src, dst, [sync])
      try {
        expect(await manager.run('words')).toMatchObject({ status: 'succeeded', created: words.length })
        // Had the two sides disagreed on order, the merge would see creates and deletes (or stop).
        expect(await manager.run('words')).toMatchObject({ status: 'succeeded', created: 0, deleted: 0, unchanged: words.length })
      } finally {
        await cleanup()
      }
    })
  })
}
